"""Billing rows for revocation tests: a live subscription purchase, and Stripe saying it ended."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from db.billing.tables import Invoice, Plan, Product, Purchase
from server.domains.billing.actions import purchases


async def buy_rows(room: dict[str, Any]) -> dict[str, Any]:
    gid = room["guild"]["id"]
    product = (
        await Product.insert(Product(platform="weokto", guild=gid, name="VIP")).returning(
            Product.id
        )
    )[0]
    plan = (
        await Plan.insert(
            Plan(product=product["id"], name="M", price_cents=1900, interval="MONTHLY")
        ).returning(Plan.id)
    )[0]
    sub = f"sub_{uuid.uuid4().hex[:10]}"
    purchase = (
        await Purchase.insert(
            Purchase(
                user=room["buyer"]["id"],
                product=product["id"],
                plan=plan["id"],
                guild=gid,
                stripe_subscription_id=sub,
                status="ACTIVE",
                current_period_end=datetime.now(UTC) + timedelta(days=20),
            )
        ).returning(Purchase.id)
    )[0]
    invoice = (
        await Invoice.insert(
            Invoice(
                stripe_invoice_id=f"in_{uuid.uuid4().hex[:10]}",
                purchase=purchase["id"],
                amount_paid_cents=1900,
                status="paid",
                paid_at=datetime.now(UTC),
            )
        ).returning(Invoice.id)
    )[0]
    return {"plan": plan["id"], "sub": sub, "purchase": purchase["id"], "invoice": invoice["id"]}


async def stripe_says_ended(room: dict[str, Any], bought: dict[str, Any]) -> None:
    # The access-loss point every webhook path reaches (subscription deleted after a refund or
    # a lost dispute, or a one-time payment refunded): the purchase re-read as ended.
    await purchases._upsert(
        room["buyer"]["id"],
        bought["plan"],
        "EXPIRED",
        None,
        False,
        subscription_id=bought["sub"],
        session_id=None,
    )
