"""Checkout: one Stripe Customer per user, then a Checkout Session for a payment button."""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec
from stripe.params.checkout import SessionCreateParams

from db.billing.tables import BillingCustomer, PaymentButton
from server.domains.auth.schemas import CurrentUser
from server.domains.catalog.actions import do_sync_plan
from server.domains.platforms.queries import Platform, branding
from server.domains.tracking.queries import checkout_attribution
from server.errors import NotFound
from server.integrations.stripe import client

ONE_OFF = ("ONE_TIME", "LIFETIME")
# Double clicks within this window return the same session instead of a second one.
DEDUPE_WINDOW_S = 600


class CheckoutStarted(msgspec.Struct):
    session_id: str
    url: str


async def access_customer_id(user: CurrentUser) -> str:
    """The user's Stripe Customer, created once (a retried create reuses its idempotency key)."""
    row = await BillingCustomer.select().where(BillingCustomer.user == user.id).first()
    if row is not None:
        return row["stripe_customer_id"]
    created = await client().v1.customers.create_async(
        params={
            "email": user.email,
            "name": user.display_name,
            "metadata": {"user_id": str(user.id), "platform": user.platform},
        },
        options={"idempotency_key": f"customer-{user.id}-{int(user.created_at.timestamp())}"},
    )
    await BillingCustomer.raw(
        'INSERT INTO billing_customers ("user", stripe_customer_id, created_at) '
        'VALUES ({}, {}, now()) ON CONFLICT ("user") DO NOTHING',
        user.id,
        created.id,
    )
    row = await BillingCustomer.select().where(BillingCustomer.user == user.id).first()
    assert row is not None  # inserted above, or by a concurrent request that won
    return str(row["stripe_customer_id"])


async def _button(user: CurrentUser, key: str) -> dict[str, Any]:
    rows = await PaymentButton.raw(
        "SELECT b.*, p.platform, p.guild, p.active AS product_active, pl.interval, "
        "pl.trial_days, pl.active AS plan_active, pl.stripe_price_id FROM payment_buttons b "
        "JOIN products p ON p.id = b.product JOIN plans pl ON pl.id = b.plan "
        "WHERE b.button_key = {}",
        key,
    )
    r = rows[0] if rows else None
    if (
        r is None
        or r["platform"] != user.platform
        or not r["active"]
        or not r["product_active"]
        or not r["plan_active"]
    ):
        raise NotFound(
            "No such payment button", code="button_not_found", details={"field": "buttonKey"}
        )
    return r


async def check_start_checkout(user: CurrentUser, key: str) -> CheckoutStarted:
    button = await _button(user, key)
    price_id = button["stripe_price_id"] or await do_sync_plan(button["plan"])
    customer = await access_customer_id(user)
    metadata = {
        "user_id": str(user.id),
        "plan_id": str(button["plan"]),
        "product_id": str(button["product"]),
        "platform": user.platform,
        "button_key": key,
    }
    # The affiliate the buyer is attributed to now (last click): the webhook applies it.
    referral = await checkout_attribution(user.id)
    if referral is not None:
        metadata |= referral.metadata()
    base = branding(Platform(user.platform)).base_url
    mode: Literal["payment", "subscription"] = (
        "payment" if button["interval"] in ONE_OFF else "subscription"
    )
    params: SessionCreateParams = {
        "mode": mode,
        "customer": customer,
        "client_reference_id": str(user.id),
        "metadata": metadata,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": f"{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": button["cancel_url"],
    }
    if mode == "subscription":
        params["subscription_data"] = {"metadata": metadata}
        if button["trial_days"]:
            params["subscription_data"]["trial_period_days"] = button["trial_days"]
    else:
        params["invoice_creation"] = {"enabled": True, "invoice_data": {"metadata": metadata}}
    window = int(time.time()) // DEDUPE_WINDOW_S
    # A new attribution within the window changes the parameters: it needs its own key.
    referred = (
        f"-a{metadata['affiliate_id']}-{metadata['attribution_source']}"
        if "affiliate_id" in metadata
        else ""
    )
    session = await client().v1.checkout.sessions.create_async(
        params=params, options={"idempotency_key": f"checkout-{user.id}-{key}-{window}{referred}"}
    )
    if not session.url:  # hosted sessions always have one; an embedded one would not
        raise RuntimeError(f"checkout session {session.id} has no URL")
    return CheckoutStarted(session_id=session.id, url=session.url)
