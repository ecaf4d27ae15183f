"""Refunds and disputes seen on charges, whoever started them (our refund flow, the Stripe
dashboard, the card network). Amounts are re-read from Stripe and stored as totals, so a
repeated or late event changes nothing."""

from __future__ import annotations

from typing import Any

from db.billing.tables import Invoice, Purchase
from db.uow import atomic
from server.integrations.stripe import client
from server.jobs import enqueue


async def _invoice_for_payment_intent(pi_id: str | None) -> dict[str, Any] | None:
    if not pi_id:
        return None
    return await Invoice.select().where(Invoice.stripe_payment_intent_id == pi_id).first()


async def _resync_one_time(purchase_id: int) -> None:
    """A one-time purchase has no subscription to cancel: re-read its payment instead (a full
    refund or a lost dispute ends it)."""
    from server.domains.billing.actions.purchases import do_sync_payment_session

    purchase = (
        await Purchase.select(Purchase.stripe_subscription_id, Purchase.stripe_checkout_session_id)
        .where(Purchase.id == purchase_id)
        .first()
    )
    if (
        purchase
        and not purchase["stripe_subscription_id"]
        and purchase["stripe_checkout_session_id"]
    ):
        await do_sync_payment_session(purchase["stripe_checkout_session_id"])


async def do_sync_charge_refunds(charge_id: str) -> int | None:
    charge = (await client().v1.charges.retrieve_async(charge_id)).to_dict()
    invoice = await _invoice_for_payment_intent(charge.get("payment_intent"))
    if invoice is None:
        return None
    async with atomic():
        await Invoice.update(
            {Invoice.amount_refunded_cents: int(charge.get("amount_refunded") or 0)}
        ).where(Invoice.id == invoice["id"])
    await enqueue("tasks.ledger.sync_invoice", invoice["id"])  # claw the commission back
    if charge.get("refunded"):
        await _resync_one_time(invoice["purchase"])
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
    await enqueue("tasks.ledger.sync_invoice", invoice["id"])  # freeze, release or claw back
    if state == "lost":
        await _resync_one_time(invoice["purchase"])
        purchase = (
            await Purchase.select(Purchase.stripe_subscription_id)
            .where(Purchase.id == invoice["purchase"])
            .first()
        )
        if purchase and purchase["stripe_subscription_id"]:
            sub = (
                await client().v1.subscriptions.retrieve_async(purchase["stripe_subscription_id"])
            ).to_dict()
            if sub["status"] != "canceled":
                await client().v1.subscriptions.cancel_async(
                    purchase["stripe_subscription_id"],
                    options={"idempotency_key": f"dispute-lost-{dispute_id}"},
                )
    return invoice["id"]
