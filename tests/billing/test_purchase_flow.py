"""Buying through Stripe Checkout (the local emulator): webhooks grant access exactly once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from db.billing.tables import Purchase, StripeEvent
from db.guilds.tables import GuildMember
from tests.fixtures import until
from tests.shop import open_shop

_until = until


@pytest.fixture
async def shop(make_client, login, stripe_emulator, live_server, celery_worker):
    return await open_shop(make_client, login, stripe_emulator, price_cents=1900)


async def _buy(shop, buyer, card: str = "4242424242424242") -> str:
    res = await buyer.post(
        "/api/payments/checkout", json={"buttonKey": shop["button"]["button_key"]}
    )
    assert res.status_code == 200, res.text
    started = res.json()
    assert started["url"].startswith(shop["emulator"])
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        paid = await emu.post(
            f"/_emulator/checkout/{started['session_id']}/pay", json={"card": card}
        )
        assert paid.status_code in (200, 402), paid.text
    return started["session_id"]


async def _purchase_of(user_id: int):
    return await Purchase.select().where(Purchase.user == user_id).first()


async def test_paying_grants_the_paid_channels(shop, make_client, login):
    buyer = await make_client()
    me = (await login(buyer, "buyer@example.com"))["user"]
    session_id = await _buy(shop, buyer)
    purchase = await _until(lambda: _purchase_of(me["id"]))
    assert purchase["stripe_checkout_session_id"] == session_id
    assert purchase["status"] == "ACTIVE" and purchase["current_period_end"] is not None

    async def paid_member():
        row = (
            await GuildMember.select()
            .where((GuildMember.guild == shop["guild"]["id"]) & (GuildMember.user == me["id"]))
            .first()
        )
        return row if row and row["paid_access"] else None

    await _until(paid_member)
    channels = (await buyer.get("/api/guilds/vip-guild/channels")).json()
    assert channels["categories"][0]["channels"][0]["can_read"] is True


async def test_duplicated_and_shuffled_webhooks_converge(shop, make_client, login):
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        await emu.post("/_emulator/chaos", json={"duplicate": True, "shuffle": True})
    try:
        buyer = await make_client()
        me = (await login(buyer, "chaos@example.com"))["user"]
        await _buy(shop, buyer)
        await _until(lambda: _purchase_of(me["id"]))

        async def settled():
            pending = await StripeEvent.count().where(
                StripeEvent.status.is_in(["received", "processing", "failed"])
            )
            return True if pending == 0 and await StripeEvent.count() > 0 else None

        await _until(settled)
        await asyncio.sleep(1.5)  # let the duplicated deliveries land too
        await _until(settled)
    finally:
        async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
            await emu.post("/_emulator/chaos", json={"duplicate": False, "shuffle": False})
    assert await Purchase.count().where(Purchase.user == me["id"]) == 1
    purchase = await _purchase_of(me["id"])
    assert purchase["status"] == "ACTIVE"
    ids = [r["stripe_id"] for r in await StripeEvent.select(StripeEvent.stripe_id)]
    assert len(ids) == len(set(ids))  # every event stored once despite double delivery


async def test_declined_card_buys_nothing(shop, make_client, login):
    buyer = await make_client()
    me = (await login(buyer, "declined@example.com"))["user"]
    await _buy(shop, buyer, card="4000000000000002")
    await asyncio.sleep(2.0)
    assert await _purchase_of(me["id"]) is None


async def test_checkout_needs_a_known_active_button(make_client, login, stripe_emulator):
    buyer = await make_client()
    await login(buyer, "nobutton@example.com")
    res = await buyer.post("/api/payments/checkout", json={"buttonKey": "missing"})
    assert res.status_code == 404 and res.json()["error"]["details"] == {"field": "buttonKey"}
    anonymous = await make_client()
    assert (
        await anonymous.post("/api/payments/checkout", json={"buttonKey": "x"})
    ).status_code == 401


async def test_confirmation_is_pushed_to_the_buyer_and_the_page_shows_it(
    shop, make_client, login, live_server, read_mail
):
    """The buyer's socket gets payment_succeeded; the success page then says confirmed."""
    from tests.realtime.clients import Inbox, connect, sign_in

    cookie = await sign_in(live_server.weokto_url, "pushed@example.com", read_mail)
    sock = await connect(live_server.weokto_url, cookie)
    inbox = Inbox(sock, "payment_succeeded")
    async with httpx.AsyncClient(base_url=live_server.weokto_url) as buyer:
        for pair in cookie.split("; "):
            k, v = pair.split("=", 1)
            buyer.cookies.set(k, v)
        buyer.headers["x-csrftoken"] = buyer.cookies["csrftoken"]
        page = await buyer.get("/checkout/success?session_id=cs_test_none")
        assert 'data-state="confirming"' in page.text
        session_id = await _buy(shop, buyer)
        await inbox.wait(lambda i: i.of("payment_succeeded"), timeout=30)
        event = inbox.of("payment_succeeded")[0]
        # invoice.paid may beat checkout.session.completed: then the push has no session id
        # yet, and the page (which ignores only a *different* session id) still takes it.
        assert event["checkout_session_id"] in (session_id, None) and event["status"] == "ACTIVE"
        assert event["guild_id"] == shop["guild"]["id"]
        assert len(inbox.of("payment_succeeded")) == 1

        async def confirmed_page():
            page = await buyer.get(f"/checkout/success?session_id={session_id}")
            return page if 'data-state="confirmed"' in page.text else None

        page = await _until(confirmed_page)
        assert "VIP" in page.text
        status = await buyer.get(f"/api/payments/checkout-status?session_id={session_id}")
        assert status.json() == {"confirmed": True, "guild_slug": "vip-guild"}
    other = await make_client()
    await login(other, "not-the-buyer@example.com")
    status = await other.get(f"/api/payments/checkout-status?session_id={session_id}")
    assert status.json() == {"confirmed": False, "guild_slug": None}
    await sock.disconnect()


async def test_a_purchase_not_yet_named_by_its_session_is_found_through_stripe(
    shop, make_client, login
):
    """invoice.paid can create the purchase before checkout.session.completed names the
    session: the status then asks Stripe which subscription the session made."""
    buyer = await make_client()
    me = (await login(buyer, "early-invoice@example.com"))["user"]
    session_id = await _buy(shop, buyer)

    async def named():
        row = await _purchase_of(me["id"])
        return row if row and row["stripe_checkout_session_id"] == session_id else None

    purchase = await _until(named)
    await Purchase.update({Purchase.stripe_checkout_session_id: None}).where(
        Purchase.id == purchase["id"]
    )
    status = await buyer.get(f"/api/payments/checkout-status?session_id={session_id}")
    assert status.json() == {"confirmed": True, "guild_slug": "vip-guild"}
    page = await buyer.get(f"/checkout/success?session_id={session_id}")
    assert 'data-state="confirmed"' in page.text and "VIP" in page.text


async def test_buyers_see_only_their_own_purchases(shop, make_client, login):
    alice, bob = await make_client(), await make_client()
    a = (await login(alice, "alice-buys@example.com"))["user"]
    await login(bob, "bob-looks@example.com")
    await _buy(shop, alice)
    purchase = await _until(lambda: _purchase_of(a["id"]))
    mine = (await alice.get("/api/purchases")).json()
    assert [p["id"] for p in mine] == [purchase["id"]]
    assert mine[0]["price_cents"] == 1900 and mine[0]["grants_access"] is True
    assert (await alice.get(f"/api/purchases/{purchase['id']}")).status_code == 200
    assert (await bob.get("/api/purchases")).json() == []
    res = await bob.get(f"/api/purchases/{purchase['id']}")
    assert res.status_code == 404 and res.json()["error"]["code"] == "purchase_not_found"


async def test_one_receipt_per_paid_invoice(shop, make_client, login, read_mail):
    from tests.fixtures import wait_mails

    buyer = await make_client()
    me = (await login(buyer, "receipt@example.com"))["user"]
    await _buy(shop, buyer)
    await _until(lambda: _purchase_of(me["id"]))
    mail = await read_mail("receipt@example.com")
    # The buyer chose no language: the mail is in the platform's (French), amounts by Babel.
    assert "Reçu : 19,00\xa0€ pour VIP" in mail["subject"]
    assert "Montant payé : 19,00\xa0€" in mail["text"] and mail["html"]
    await asyncio.sleep(2.0)  # invoice.paid and its repeats have been processed by now
    mails = await wait_mails("receipt@example.com", 1)
    assert len([m for m in mails if m["subject"].startswith("Reçu")]) == 1
