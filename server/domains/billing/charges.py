"""Refunds and disputes seen on charges, whoever started them (our refund flow, the Stripe
dashboard, the card network). Amounts are re-read from Stripe and stored as totals, so a
repeated or late event changes nothing."""
from __future__ import annotations

from typing import Any

from db.billing.tables import Invoice, Purchase
from realtime.emitter import atomic
from server.domains.billing.stripe_api import client


async def _invoice_for_payment_intent(pi_id: str | None) -> dict[str, Any] | None:
    if not pi_id:
        return None
    return await Invoice.select().where(Invoice.stripe_payment_intent_id == pi_id).first()


async def do_sync_charge_refunds(charge_id: str) -> int | None:
    charge = (await client().v1.charges.retrieve_async(charge_id)).to_dict()
    invoice = await _invoice_for_payment_intent(charge.get("payment_intent"))
    if invoice is None:
        return None
    async with atomic():
        await Invoice.update({Invoice.amount_refunded_cents: int(charge.get("amount_refunded") or 0)}
                             ).where(Invoice.id == invoice["id"])
    return invoice["id"]


def _dispute_state(status: str) -> str:
    return status if status in ("won", "lost") else "open"


async def do_sync_dispute(dispute_id: str) -> int | None:
    """Record the dispute; a lost one ends the subscription in Stripe (and so the access)."""
    dispute = (await client().v1.disputes.retrieve_async(dispute_id)).to_dict()
    charge = (await client().v1.charges.retrieve_async(dispute["charge"])).to_dict()
    invoice = await _invoice_for_payment_intent(charge.get("payment_intent"))
    if invoice is None:
        return None
    state = _dispute_state(dispute["status"])
    async with atomic():
        await Invoice.update({Invoice.dispute_status: state}).where(Invoice.id == invoice["id"])
    if state == "lost":
        purchase = await Purchase.select(Purchase.stripe_subscription_id).where(
            Purchase.id == invoice["purchase"]).first()
        if purchase and purchase["stripe_subscription_id"]:
            sub = (await client().v1.subscriptions.retrieve_async(
                purchase["stripe_subscription_id"])).to_dict()
            if sub["status"] != "canceled":
                await client().v1.subscriptions.cancel_async(
                    purchase["stripe_subscription_id"],
                    options={"idempotency_key": f"dispute-lost-{dispute_id}"})
    return invoice["id"]
