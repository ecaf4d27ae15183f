"""Billing tables: Stripe events (stored once by id), the catalog (products, plans, buttons),
purchases and invoices, and billing mails sent once each (and refusals of the mail server)."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from db.auth.tables import User
from db.guilds.tables import Guild


class StripeEvent(Table, tablename="stripe_events"):
    id: Serial  # the implicit primary key, declared for the type checker

    stripe_id = Varchar(length=255, unique=True)
    type = Varchar(length=100, index=True)
    livemode = Varchar(length=5, default="false")
    # Stripe's Unix time: bigint, as a signed event may carry any value (2^31 overflowed int).
    stripe_created = BigInt()
    payload = JSONB()
    # received -> processing -> succeeded | failed (retried) ; unhandled types end "ignored"
    status = Varchar(length=16, default="received", index=True)
    attempts = Integer(default=0)
    last_error = Text(default="")
    received_at = Timestamptz(default=TimestamptzNow())
    # When a worker took it: a 'processing' row older than the lease was orphaned by a crash.
    claimed_at = Timestamptz(null=True, default=None)
    # The Celery task id that took it: that task, redelivered or retried, may take it again.
    claimed_by = Varchar(length=64, default="")
    processed_at = Timestamptz(null=True, default=None)


class Product(Table, tablename="products"):
    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16, index=True)
    # The community the product sells access to (its paid channels and membership).
    guild = ForeignKey(Guild, null=True, on_delete=OnDelete.set_null)
    name = Varchar(length=120)
    description = Text(default="")
    active = Boolean(default=True)
    stripe_product_id = Varchar(length=255, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Plan(Table, tablename="plans"):
    id: Serial  # the implicit primary key, declared for the type checker

    product = ForeignKey(Product, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=120)
    price_cents = Integer()
    currency = Varchar(length=3, default="eur")
    interval = Varchar(length=16)
    trial_days = Integer(default=0)
    commission_percent = Integer(default=30)
    active = Boolean(default=True)
    stripe_price_id = Varchar(length=255, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())


class PaymentButton(Table, tablename="payment_buttons"):
    id: Serial  # the implicit primary key, declared for the type checker

    button_key = Varchar(length=64, unique=True)
    product = ForeignKey(Product, on_delete=OnDelete.restrict)
    plan = ForeignKey(Plan, on_delete=OnDelete.restrict)
    display_name = Varchar(length=120)
    description = Text(default="")
    cta_text = Varchar(length=60, default="Join now")
    success_url = Varchar(length=1000)
    cancel_url = Varchar(length=1000)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class BillingCustomer(Table, tablename="billing_customers"):
    """The Stripe Customer of a user, created once."""

    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, on_delete=OnDelete.cascade, unique=True)
    stripe_customer_id = Varchar(length=255, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Purchase(Table, tablename="purchases"):
    """What a user bought: a subscription (keyed by its Stripe id) or a one-time payment."""

    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, on_delete=OnDelete.restrict, index=True)
    product = ForeignKey(Product, on_delete=OnDelete.restrict)
    plan = ForeignKey(Plan, on_delete=OnDelete.restrict)
    guild = ForeignKey(Guild, null=True, on_delete=OnDelete.set_null)
    stripe_checkout_session_id = Varchar(length=255, null=True, default=None, unique=True)
    stripe_subscription_id = Varchar(length=255, null=True, default=None, unique=True)
    # TRIAL, ACTIVE, PAST_DUE, CANCELLED (until the period ends), EXPIRED
    status = Varchar(length=16)
    current_period_end = Timestamptz(null=True, default=None)
    cancel_at_period_end = Boolean(default=False)
    # When the purchase first went PAST_DUE (cleared once paid): the grace period runs from it.
    past_due_since = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Invoice(Table, tablename="invoices"):
    """A paid (or failed) Stripe invoice of a purchase: the first payment and each renewal."""

    id: Serial  # the implicit primary key, declared for the type checker

    stripe_invoice_id = Varchar(length=255, unique=True)
    purchase = ForeignKey(Purchase, on_delete=OnDelete.restrict, index=True)
    amount_paid_cents = Integer(default=0)
    amount_refunded_cents = Integer(default=0)
    currency = Varchar(length=3, default="eur")
    status = Varchar(length=16)
    stripe_payment_intent_id = Varchar(length=255, null=True, default=None)
    paid_at = Timestamptz(null=True, default=None)
    # Set when the receipt email is taken for sending: one receipt per paid invoice.
    receipt_sent_at = Timestamptz(null=True, default=None)
    # None, or the dispute's state: open (warning_/needs_response/under_review), won, lost.
    dispute_status = Varchar(length=16, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RefundRequest(Table, tablename="refund_requests"):
    id: Serial  # the implicit primary key, declared for the type checker

    purchase = ForeignKey(Purchase, on_delete=OnDelete.restrict, index=True)
    invoice = ForeignKey(Invoice, on_delete=OnDelete.restrict)
    user = ForeignKey(User, on_delete=OnDelete.restrict, index=True)
    amount_cents = Integer()
    reason = Text()
    # pending -> approved | rejected
    status = Varchar(length=16, default="pending", index=True)
    decision_reason = Text(default="")
    decided_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
    stripe_refund_id = Varchar(length=255, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class MailNotice(Table, tablename="mail_notices"):
    """A billing email that must go out once: (kind, ref) is claimed before sending."""

    id: Serial  # the implicit primary key, declared for the type checker

    kind = Varchar(length=32)
    ref = Varchar(length=255)  # type: ignore[assignment]  # shadows Table.ref(); read by raw SQL only
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    sent_at = Timestamptz(default=TimestamptzNow())
    # sent: the mail server accepted it; refused: it refused the address for good (5xx), so
    # the notice is settled and never retried (the reason is in mail_refusals too).
    status = Varchar(length=16, default="sent")
    detail = Text(default="")

    unique_notice = Unique(["kind", "ref"])


class MailRefusal(Table, tablename="mail_refusals"):
    """A mail the SMTP server refused for good (5xx): what ops look at, never retried."""

    id: Serial  # the implicit primary key, declared for the type checker

    kind = Varchar(length=32)  # login, receipt, dunning, renewal-7d, ...
    ref = Varchar(length=255)  # type: ignore[assignment]  # shadows Table.ref(); read by raw SQL only
    address = Varchar(length=320, index=True)
    code = Integer()
    reason = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
