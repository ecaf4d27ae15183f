"""Mirror catalog rows to Stripe Products and Prices, idempotently (run by a worker).

Creation carries an idempotency key derived from the row, so a retried task never makes a
second Stripe object; Stripe prices are immutable, so a plan only toggles `active` there.
"""

from __future__ import annotations

from typing import Any

from db.billing.tables import Plan, Product
from server.domains.billing.stripe_api import client

RECURRING: dict[str, dict[str, Any] | None] = {
    "MONTHLY": {"interval": "month"},
    "QUARTERLY": {"interval": "month", "interval_count": 3},
    "ANNUALLY": {"interval": "year"},
    "ONE_TIME": None,
    "LIFETIME": None,
}


def _key(kind: str, row: dict[str, Any]) -> str:
    # The row's id and creation time: stable across retries, never reused by another row.
    return f"catalog-{kind}-{row['id']}-{int(row['created_at'].timestamp() * 1_000_000)}"


async def do_sync_product(product_id: int) -> str:
    row = await Product.select().where(Product.id == product_id).first()
    if row is None:
        return "gone"
    fields = {
        "name": row["name"],
        "description": row["description"] or None,
        "active": row["active"],
    }
    if row["stripe_product_id"]:
        await client().v1.products.update_async(row["stripe_product_id"], params=fields)
        return row["stripe_product_id"]
    created = await client().v1.products.create_async(
        params={**fields, "metadata": {"product_id": str(product_id), "platform": row["platform"]}},
        options={"idempotency_key": _key("product", row)},
    )
    await Product.update({Product.stripe_product_id: created.id}).where(Product.id == product_id)
    return created.id


async def do_sync_plan(plan_id: int) -> str:
    row = await Plan.select().where(Plan.id == plan_id).first()
    if row is None:
        return "gone"
    if row["stripe_price_id"]:
        await client().v1.prices.update_async(
            row["stripe_price_id"], params={"active": row["active"]}
        )
        return row["stripe_price_id"]
    product_stripe_id = await do_sync_product(row["product"])
    params: dict[str, Any] = {
        "product": product_stripe_id,
        "unit_amount": row["price_cents"],
        "currency": row["currency"],
        "active": row["active"],
        "metadata": {"plan_id": str(plan_id), "interval": row["interval"]},
    }
    if (recurring := RECURRING[row["interval"]]) is not None:
        params["recurring"] = recurring
    created = await client().v1.prices.create_async(
        params=params, options={"idempotency_key": _key("price", row)}
    )
    await Plan.update({Plan.stripe_price_id: created.id}).where(Plan.id == plan_id)
    return created.id
