"""One small handler per Stripe event type; each re-reads Stripe and converges (see purchases)."""

from __future__ import annotations

from typing import Any

from server.domains.billing import charges, invoices, purchases
from server.domains.billing.webhooks import handles
from server.jobs import enqueue


def _object(event: dict[str, Any]) -> dict[str, Any]:
    return event["data"]["object"]


@handles("checkout.session.completed", "checkout.session.async_payment_succeeded")
async def on_checkout_completed(event: dict[str, Any]) -> None:
    session = _object(event)
    if session.get("subscription"):
        await purchases.do_sync_subscription(session["subscription"], session["id"])
    elif await purchases.do_sync_payment_session(session["id"]) and session.get("invoice"):
        # The invoice of a one-time payment (invoice_creation) was paid before the session
        # completed, so before its purchase existed: record it now.
        await invoices.do_record_invoice(session["invoice"], session["id"])


@handles(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
async def on_subscription_changed(event: dict[str, Any]) -> None:
    await purchases.do_sync_subscription(_object(event)["id"])


@handles("invoice.paid", "invoice.payment_failed")
async def on_invoice(event: dict[str, Any]) -> None:
    invoice = _object(event)
    parent = invoice.get("parent") or {}
    sub_id = (parent.get("subscription_details") or {}).get("subscription") or invoice.get(
        "subscription"
    )
    if sub_id:
        await purchases.do_sync_subscription(sub_id)
        await invoices.do_record_invoice(invoice["id"])
        if event["type"] == "invoice.payment_failed":
            await enqueue("tasks.mail.send_dunning", invoice["id"], sub_id)
    elif "plan_id" in (invoice.get("metadata") or {}):
        await invoices.do_record_invoice(invoice["id"])  # a one-time purchase's, if known yet


@handles("charge.refunded", "refund.created", "refund.updated")
async def on_refund(event: dict[str, Any]) -> None:
    obj = _object(event)
    charge_id = obj["id"] if obj.get("object") == "charge" else obj.get("charge")
    if charge_id:
        await charges.do_sync_charge_refunds(charge_id)


@handles("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")
async def on_dispute(event: dict[str, Any]) -> None:
    await charges.do_sync_dispute(_object(event)["id"])
