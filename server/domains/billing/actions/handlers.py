"""One small handler per Stripe event type, and the table that routes types to them.

Each re-reads Stripe and converges (see purchases), so a handler only needs the ids in the event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from server.domains.billing.actions import charges, invoices, purchases
from server.integrations.stripe import (
    ChargeOrRefundView,
    CheckoutSessionView,
    EventView,
    InvoiceView,
    ObjectId,
    read_object,
)
from server.jobs import enqueue

Handler = Callable[[EventView], Awaitable[None]]


async def on_checkout_completed(event: EventView) -> None:
    session = read_object(event, CheckoutSessionView)
    if session.subscription:
        await purchases.do_sync_subscription(session.subscription, session.id)
    elif await purchases.do_sync_payment_session(session.id) and session.invoice:
        # The invoice of a one-time payment (invoice_creation) was paid before the session
        # completed, so before its purchase existed: record it now.
        await invoices.do_record_invoice(session.invoice, session.id)


async def on_subscription_changed(event: EventView) -> None:
    await purchases.do_sync_subscription(read_object(event, ObjectId).id)


async def on_invoice(event: EventView) -> None:
    invoice = read_object(event, InvoiceView)
    sub_id = invoice.subscription_id
    if sub_id:
        await purchases.do_sync_subscription(sub_id)
        await invoices.do_record_invoice(invoice.id)
        if event.type == "invoice.payment_failed":
            await enqueue("tasks.mail.send_dunning", invoice.id, sub_id)
    elif "plan_id" in invoice.metadata:
        await invoices.do_record_invoice(invoice.id)  # a one-time purchase's, if known yet


async def on_refund(event: EventView) -> None:
    charge_id = read_object(event, ChargeOrRefundView).charge_id
    if charge_id:
        await charges.do_sync_charge_refunds(charge_id)


async def on_dispute(event: EventView) -> None:
    await charges.do_sync_dispute(read_object(event, ObjectId).id)


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_checkout_completed,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_changed,
    "invoice.paid": on_invoice,
    "invoice.payment_failed": on_invoice,
    "charge.refunded": on_refund,
    "refund.created": on_refund,
    "refund.updated": on_refund,
    "charge.dispute.created": on_dispute,
    "charge.dispute.updated": on_dispute,
    "charge.dispute.closed": on_dispute,
}
