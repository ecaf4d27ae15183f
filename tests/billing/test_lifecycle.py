"""Subscription life after the purchase, driven by the emulator's clock: renew, fail, end."""

from __future__ import annotations

import httpx

from db.billing.tables import BillingCustomer, Purchase
from db.guilds.tables import GuildMember
from server.integrations.stripe import client
from tests.billing.test_purchase_flow import _buy, _purchase_of, _until, shop  # noqa: F401


async def _state(user_id: int, guild_id: int) -> tuple[str, bool]:
    purchase = await _purchase_of(user_id)
    member = (
        await GuildMember.select(GuildMember.paid_access)
        .where((GuildMember.guild == guild_id) & (GuildMember.user == user_id))
        .first()
    )
    return purchase["status"], bool(member and member["paid_access"])


async def _advance(base: str, days: int) -> None:
    async with httpx.AsyncClient(base_url=base) as emu:
        res = await emu.post("/_emulator/advance", json={"days": days})
        assert res.status_code == 200, res.text


async def buy_then_fail_renewal(shop, buyer, login, email: str) -> dict:
    """Sign in, subscribe, switch to a card that declines, run the clock past the renewal."""
    me = (await login(buyer, email))["user"]
    await _buy(shop, buyer)
    await _until(lambda: _purchase_of(me["id"]))
    customer = await BillingCustomer.select().where(BillingCustomer.user == me["id"]).first()
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        await emu.post(
            f"/_emulator/customers/{customer['stripe_customer_id']}/card",
            json={"card": "4000000000000341"},
        )
    await _advance(shop["emulator"], 31)
    return me


async def test_renewal_moves_the_period_and_keeps_access(shop, make_client, login):
    buyer = await make_client()
    me = (await login(buyer, "renew@example.com"))["user"]
    await _buy(shop, buyer)
    first = await _until(lambda: _purchase_of(me["id"]))
    await _advance(shop["emulator"], 32)

    async def renewed():
        row = await _purchase_of(me["id"])
        return row if row["current_period_end"] > first["current_period_end"] else None

    await _until(renewed)
    assert await _state(me["id"], shop["guild"]["id"]) == ("ACTIVE", True)


async def test_failed_renewal_is_past_due_then_expires_and_removes_access(
    shop,
    make_client,
    login,
):
    buyer = await make_client()
    me = await buy_then_fail_renewal(shop, buyer, login, "dunning@example.com")

    async def past_due():
        return True if (await _purchase_of(me["id"]))["status"] == "PAST_DUE" else None

    await _until(past_due)
    assert await _state(me["id"], shop["guild"]["id"]) == ("PAST_DUE", True)  # grace: kept
    await _advance(shop["emulator"], 14)  # dunning gives up and cancels

    async def expired():
        return True if (await _purchase_of(me["id"]))["status"] == "EXPIRED" else None

    await _until(expired)
    assert await _state(me["id"], shop["guild"]["id"]) == ("EXPIRED", False)


async def test_cancel_at_period_end_keeps_access_until_the_end(shop, make_client, login):
    buyer = await make_client()
    me = (await login(buyer, "leaving@example.com"))["user"]
    await _buy(shop, buyer)
    purchase = await _until(lambda: _purchase_of(me["id"]))
    await client().v1.subscriptions.update_async(
        purchase["stripe_subscription_id"], params={"cancel_at_period_end": True}
    )

    async def cancelled():
        return True if (await _purchase_of(me["id"]))["status"] == "CANCELLED" else None

    await _until(cancelled)
    assert await _state(me["id"], shop["guild"]["id"]) == ("CANCELLED", True)
    await _advance(shop["emulator"], 32)

    async def ended():
        return True if (await _purchase_of(me["id"]))["status"] == "EXPIRED" else None

    await _until(ended)
    assert await _state(me["id"], shop["guild"]["id"]) == ("EXPIRED", False)
    assert await Purchase.count().where(Purchase.user == me["id"]) == 1
