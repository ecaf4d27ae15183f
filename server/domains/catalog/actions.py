"""Catalog writes. Rows are stored first; a worker mirrors them to Stripe (idempotently)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from piccolo.columns import Column
from stripe.params import (
    PriceCreateParams,
    PriceCreateParamsRecurring,
    ProductCreateParams,
    ProductUpdateParams,
)

from db.billing.tables import PaymentButton, Plan, Product
from db.guilds.tables import Guild
from db.uow import atomic
from server.domains.affiliates.schemas import COMMISSION_CURRENCY
from server.domains.auth.schemas import CurrentUser
from server.domains.catalog import queries
from server.domains.catalog.schemas import (
    ButtonCreate,
    ButtonRead,
    ButtonUpdate,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    ProductCreate,
    ProductRead,
    ProductUpdate,
)
from server.errors import ClientError, Conflict, NotFound
from server.integrations.stripe import client
from server.jobs import enqueue


def _changes(data: msgspec.Struct) -> dict[Column | str, Any]:
    """The fields a partial update sets, as Piccolo's update() takes them."""
    changes: dict[Column | str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    return changes


async def _sync(kind: str, row_id: int) -> None:
    await enqueue("tasks.billing.sync_catalog", kind, row_id)


async def check_create_product(user: CurrentUser, data: ProductCreate) -> ProductRead:
    if data.guild_id is not None and not await Guild.exists().where(
        (Guild.id == data.guild_id) & (Guild.platform == user.platform)
    ):
        raise NotFound("No such community", code="guild_not_found", details={"field": "guild_id"})
    async with atomic():
        rows = await Product.insert(
            Product(
                platform=user.platform,
                guild=data.guild_id,
                name=data.name,
                description=data.description,
                active=data.active,
            )
        ).returning(*Product.all_columns())
    await _sync("product", rows[0]["id"])
    return queries.product_read(rows[0])


async def check_update_product(
    user: CurrentUser, product_id: int, data: ProductUpdate
) -> ProductRead:
    current = await queries.access_product(user, product_id)
    changes = _changes(data)
    if not changes:
        return current
    async with atomic():
        rows = (
            await Product.update({**changes, "updated_at": datetime.now(UTC)})
            .where(Product.id == product_id)
            .returning(*Product.all_columns())
        )
    await _sync("product", product_id)
    return queries.product_read(rows[0])


DEFAULT_COMMISSION_PERCENT = 30


def _commission_percent(currency: str, percent: int | None) -> int:
    """A plan earns affiliates a commission only in the ledger's currency: balances in two
    currencies cannot be added, and no exchange rate is applied to money owed."""
    if currency == COMMISSION_CURRENCY:
        return DEFAULT_COMMISSION_PERCENT if percent is None else percent
    if percent:
        raise ClientError(
            f"Affiliate commissions are paid in {COMMISSION_CURRENCY.upper()}: a plan priced in "
            f"{currency.upper()} cannot carry one (set commission_percent to 0).",
            code="commission_currency",
        )
    return 0


async def check_create_plan(user: CurrentUser, data: PlanCreate) -> PlanRead:
    await queries.access_product(user, data.product_id)
    percent = _commission_percent(data.currency, data.commission_percent)
    async with atomic():
        rows = await Plan.insert(
            Plan(
                product=data.product_id,
                name=data.name,
                price_cents=data.price_cents,
                currency=data.currency,
                interval=data.interval.value,
                trial_days=data.trial_days,
                commission_percent=percent,
                active=data.active,
            )
        ).returning(*Plan.all_columns())
    await _sync("plan", rows[0]["id"])
    return queries.plan_read(rows[0])


async def check_update_plan(user: CurrentUser, plan_id: int, data: PlanUpdate) -> PlanRead:
    current = await queries.access_plan(user, plan_id)
    changes = _changes(data)
    if "commission_percent" in changes:
        _commission_percent(current.currency, changes["commission_percent"])
    if not changes:
        return current
    async with atomic():
        rows = await Plan.update(changes).where(Plan.id == plan_id).returning(*Plan.all_columns())
    if "active" in changes:
        await _sync("plan", plan_id)
    return queries.plan_read(rows[0])


async def check_create_button(user: CurrentUser, data: ButtonCreate) -> ButtonRead:
    plan = await queries.access_plan(user, data.plan_id)
    key = data.button_key or secrets.token_urlsafe(12)
    try:
        async with atomic():
            rows = await PaymentButton.insert(
                PaymentButton(
                    button_key=key,
                    product=plan.product_id,
                    plan=plan.id,
                    display_name=data.display_name,
                    description=data.description,
                    cta_text=data.cta_text,
                    success_url=data.success_url,
                    cancel_url=data.cancel_url,
                    active=data.active,
                )
            ).returning(*PaymentButton.all_columns())
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            "This button key is taken", code="button_key_taken", details={"field": "button_key"}
        ) from exc
    return queries.button_read(rows[0], user.platform)


async def check_update_button(user: CurrentUser, button_id: int, data: ButtonUpdate) -> ButtonRead:
    current = await queries.access_button(user, button_id)
    changes = _changes(data)
    if not changes:
        return current
    async with atomic():
        rows = (
            await PaymentButton.update(changes)
            .where(PaymentButton.id == button_id)
            .returning(*PaymentButton.all_columns())
        )
    return queries.button_read(rows[0], user.platform)


# Mirroring to Stripe (run by a worker). Creation carries an idempotency key derived from the
# row, so a retried task never makes a second Stripe object; Stripe prices are immutable, so a
# plan only toggles `active` there.

RECURRING: dict[str, PriceCreateParamsRecurring | None] = {
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
    if row["stripe_product_id"]:
        update: ProductUpdateParams = {"name": row["name"], "active": row["active"]}
        if row["description"]:
            update["description"] = row["description"]
        await client().v1.products.update_async(row["stripe_product_id"], params=update)
        return str(row["stripe_product_id"])
    create: ProductCreateParams = {
        "name": row["name"],
        "active": row["active"],
        "metadata": {"product_id": str(product_id), "platform": row["platform"]},
    }
    if row["description"]:
        create["description"] = row["description"]
    created = await client().v1.products.create_async(
        params=create,
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
    params: PriceCreateParams = {
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
