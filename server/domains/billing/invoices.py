"""Invoices of a purchase, recorded from Stripe (re-read, so repeats and reorders converge)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from db.billing.tables import Invoice, Purchase
from realtime.emitter import atomic
from server.domains.billing.stripe_api import client
from server.jobs import enqueue


def _payment_intent(invoice: dict[str, Any]) -> str | None:
    for item in (invoice.get("payments") or {}).get("data", []):
        pi = (item.get("payment") or {}).get("payment_intent")
        if pi:
            return pi if isinstance(pi, str) else pi.get("id")
    return invoice.get("payment_intent")


async def do_record_invoice(invoice_id: str) -> int | None:
    """Upsert our row for a subscription invoice; None when it is not one of our purchases."""
    invoice = (await client().v1.invoices.retrieve_async(
        invoice_id, params={"expand": ["payments"]})).to_dict()
    parent = invoice.get("parent") or {}
    sub_id = (parent.get("subscription_details") or {}).get("subscription")
    if not sub_id:
        return None
    purchase = await Purchase.select(Purchase.id).where(
        Purchase.stripe_subscription_id == sub_id).first()
    if purchase is None:
        return None
    paid_ts = (invoice.get("status_transitions") or {}).get("paid_at")
    paid_at = datetime.fromtimestamp(paid_ts, timezone.utc) if paid_ts else None
    async with atomic():
        rows = await Invoice.raw(
            "INSERT INTO invoices (stripe_invoice_id, purchase, amount_paid_cents, "
            "amount_refunded_cents, currency, status, stripe_payment_intent_id, paid_at, "
            "created_at) VALUES ({}, {}, {}, 0, {}, {}, {}, {}, now()) "
            "ON CONFLICT (stripe_invoice_id) DO UPDATE SET status = EXCLUDED.status, "
            "amount_paid_cents = EXCLUDED.amount_paid_cents, paid_at = COALESCE(invoices.paid_at, "
            "EXCLUDED.paid_at), stripe_payment_intent_id = COALESCE("
            "invoices.stripe_payment_intent_id, EXCLUDED.stripe_payment_intent_id) RETURNING id",
            invoice_id, purchase["id"], invoice.get("amount_paid") or 0,
            invoice.get("currency") or "eur", invoice.get("status") or "open",
            _payment_intent(invoice), paid_at)
    if invoice.get("status") == "paid":
        await enqueue("tasks.mail.send_receipt", rows[0]["id"])
    return rows[0]["id"]
