"""Refunds made outside our flow (full or partial) and disputes (won keeps, lost ends access)."""

from __future__ import annotations

import httpx

from db.billing.tables import Invoice
from server.integrations.stripe import client
from tests.billing.test_lifecycle import _state
from tests.billing.test_purchase_flow import _purchase_of, _until, shop  # noqa: F401
from tests.billing.test_refunds import _bought


async def _charge_of(invoice: dict) -> str:
    pi = await client().v1.payment_intents.retrieve_async(invoice["stripe_payment_intent_id"])
    return pi.latest_charge


async def _paid_invoice(purchase_id: int) -> dict:
    return await _until(
        lambda: (
            Invoice.select()
            .where((Invoice.purchase == purchase_id) & (Invoice.status == "paid"))
            .first()
        )
    )


async def test_partial_then_full_refund_totals_are_recorded(shop, make_client, login):
    _, _, purchase = await _bought(shop, make_client, login, "partial@example.com")
    invoice = await _paid_invoice(purchase["id"])
    charge = await _charge_of(invoice)
    await client().v1.refunds.create_async(params={"charge": charge, "amount": 500})

    async def refunded(total: int):
        row = await Invoice.select().where(Invoice.id == invoice["id"]).first()
        return row if row["amount_refunded_cents"] == total else None

    await _until(lambda: refunded(500))
    await client().v1.refunds.create_async(params={"charge": charge})  # the rest
    await _until(lambda: refunded(1900))


async def test_lost_dispute_ends_access_and_won_keeps_it(shop, make_client, login):
    _, lost_user, lost = await _bought(shop, make_client, login, "chargeback@example.com")
    _, won_user, won = await _bought(shop, make_client, login, "honest@example.com")
    for purchase, outcome in ((lost, "lost"), (won, "won")):
        invoice = await _paid_invoice(purchase["id"])
        charge = await _charge_of(invoice)
        async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
            opened = (await emu.post(f"/_emulator/charges/{charge}/dispute", json={})).json()
            await _until(
                lambda: (
                    Invoice.select()
                    .where((Invoice.id == invoice["id"]) & (Invoice.dispute_status == "open"))
                    .first()
                )
            )
            await emu.post(f"/_emulator/disputes/{opened['id']}/close", json={"status": outcome})
        await _until(
            lambda: (
                Invoice.select()
                .where((Invoice.id == invoice["id"]) & (Invoice.dispute_status == outcome))
                .first()
            )
        )

    async def expired():
        return True if (await _purchase_of(lost_user["id"]))["status"] == "EXPIRED" else None

    await _until(expired)
    assert await _state(lost_user["id"], shop["guild"]["id"]) == ("EXPIRED", False)
    assert await _state(won_user["id"], shop["guild"]["id"]) == ("ACTIVE", True)
