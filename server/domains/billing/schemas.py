"""Billing Structs."""

from __future__ import annotations

from datetime import datetime

import msgspec


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool
    event_id: str


class InvoiceRead(msgspec.Struct):
    id: int
    stripe_invoice_id: str
    status: str
    amount_paid_cents: int
    amount_refunded_cents: int
    currency: str
    paid_at: datetime | None
    receipt_number: str | None
    # The PDF receipt, once paid.
    receipt_url: str | None


class AccessRead(msgspec.Struct):
    """Whether the user may use what a product (or a guild) sells, decided in one place."""

    has_access: bool
    # TRIAL, ACTIVE, PAST_DUE (within its grace or not), CANCELLED, EXPIRED, or NONE.
    status: str
    until: datetime | None
    product_id: int | None = None
    guild_slug: str | None = None


class PurchaseRead(msgspec.Struct):
    id: int
    product_id: int
    product_name: str
    plan_id: int
    plan_name: str
    price_cents: int
    currency: str
    interval: str
    guild_id: int | None
    status: str
    grants_access: bool
    current_period_end: datetime | None
    cancel_at_period_end: bool
    created_at: datetime
    # Filled when one purchase is read (not in the list).
    invoices: list[InvoiceRead] = msgspec.field(default_factory=list)


class SessionPurchase(msgspec.Struct):
    """The purchase a Checkout Session made, as the success page and its status poll read it."""

    id: int
    status: str
    guild_id: int | None
    guild_slug: str | None
    product_name: str


class ReceiptRow(msgspec.Struct):
    """A paid invoice with what its PDF receipt shows (the buyer, the product, the plan)."""

    id: int
    purchase: int
    stripe_invoice_id: str
    amount_paid_cents: int
    amount_refunded_cents: int
    currency: str
    paid_at: datetime
    email: str
    platform: str
    # The buyer's saved language, if any.
    buyer_locale: str | None
    product: str
    plan: str


class RefundRead(msgspec.Struct):
    id: int
    purchase_id: int
    user_id: int
    amount_cents: int
    currency: str
    reason: str
    status: str
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None


class RefundToDecide(msgspec.Struct):
    """A pending refund request with what a decision needs: the Stripe objects to refund and
    cancel, the invoice whose refunded total grows, the amount."""

    id: int
    invoice: int
    amount_cents: int
    status: str
    platform: str
    stripe_payment_intent_id: str | None
    stripe_subscription_id: str | None
