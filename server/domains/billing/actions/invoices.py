"""Invoices of a purchase, recorded from Stripe (re-read, so repeats and reorders converge)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from db.billing.tables import Invoice, Purchase
from db.uow import atomic
from server.integrations.stripe import client
from server.jobs import enqueue


def _payment_intent(invoice: dict[str, Any]) -> str | None:
    for item in (invoice.get("payments") or {}).get("data", []):
        pi = (item.get("payment") or {}).get("payment_intent")
        if pi:
            return pi if isinstance(pi, str) else pi.get("id")
    return invoice.get("payment_intent")


async def _session_of(invoice: dict[str, Any]) -> str | None:
    """The Checkout Session that paid a one-time invoice (Stripe lists sessions by payment
    intent, not by invoice)."""
    pi = _payment_intent(invoice)
    if not pi:
        return None
    sessions = await client().v1.checkout.sessions.list_async(
        params={"payment_intent": pi, "limit": 1}
    )
    return sessions.data[0].id if sessions.data else None


async def _purchase_of(invoice: dict[str, Any], session_id: str | None) -> dict[str, Any] | None:
    parent = invoice.get("parent") or {}
    sub_id = (parent.get("subscription_details") or {}).get("subscription")
    if sub_id:
        return (
            await Purchase.select(Purchase.id)
            .where(Purchase.stripe_subscription_id == sub_id)
            .first()
        )
    if "plan_id" not in (invoice.get("metadata") or {}):
        return None  # neither a subscription's nor made by our checkout (invoice_creation)
    session_id = session_id or await _session_of(invoice)
    if session_id is None:
        return None
    return (
        await Purchase.select(Purchase.id)
        .where(Purchase.stripe_checkout_session_id == session_id)
        .first()
    )


async def do_record_invoice(invoice_id: str, session_id: str | None = None) -> int | None:
    """Upsert our row for an invoice of a subscription, or of a one-time purchase (its
    Checkout Session, when the caller knows it); None when it is not one of our purchases."""
    invoice = (
        await client().v1.invoices.retrieve_async(invoice_id, params={"expand": ["payments"]})
    ).to_dict()
    purchase = await _purchase_of(invoice, session_id)
    if purchase is None:
        return None
    paid_ts = (invoice.get("status_transitions") or {}).get("paid_at")
    paid_at = datetime.fromtimestamp(paid_ts, UTC) if paid_ts else None
    async with atomic():
        rows = await Invoice.raw(
            "INSERT INTO invoices (stripe_invoice_id, purchase, amount_paid_cents, "
            "amount_refunded_cents, currency, status, stripe_payment_intent_id, paid_at, "
            "created_at) VALUES ({}, {}, {}, 0, {}, {}, {}, {}, now()) "
            "ON CONFLICT (stripe_invoice_id) DO UPDATE SET status = EXCLUDED.status, "
            "amount_paid_cents = EXCLUDED.amount_paid_cents, paid_at = COALESCE(invoices.paid_at, "
            "EXCLUDED.paid_at), stripe_payment_intent_id = COALESCE("
            "invoices.stripe_payment_intent_id, EXCLUDED.stripe_payment_intent_id) RETURNING id",
            invoice_id,
            purchase["id"],
            invoice.get("amount_paid") or 0,
            invoice.get("currency") or "eur",
            invoice.get("status") or "open",
            _payment_intent(invoice),
            paid_at,
        )
    await enqueue("tasks.ledger.sync_invoice", rows[0]["id"])  # the affiliate's commission
    if invoice.get("status") == "paid":
        await enqueue("tasks.mail.send_receipt", rows[0]["id"])
    return rows[0]["id"]
