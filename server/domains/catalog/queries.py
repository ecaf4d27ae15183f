"""Catalog reads and access_* helpers (a product is visible to its own platform only)."""

from __future__ import annotations

import html
from typing import Any

from db.billing.tables import PaymentButton, Plan, Product
from server.domains.auth.schemas import CurrentUser
from server.domains.catalog.schemas import (
    ButtonConfig,
    ButtonRead,
    Interval,
    PlanRead,
    ProductRead,
)
from server.domains.platforms.queries import Platform, branding
from server.errors import NotFound

# Row mappers: a Piccolo row (a dict) becomes the Struct that leaves the module.


def product_read(r: dict[str, Any]) -> ProductRead:
    return ProductRead(
        id=r["id"],
        platform=r["platform"],
        guild_id=r["guild"],
        name=r["name"],
        description=r["description"],
        active=r["active"],
        stripe_product_id=r["stripe_product_id"],
        created_at=r["created_at"],
    )


def plan_read(r: dict[str, Any]) -> PlanRead:
    return PlanRead(
        id=r["id"],
        product_id=r["product"],
        name=r["name"],
        price_cents=r["price_cents"],
        currency=r["currency"],
        interval=Interval(r["interval"]),
        trial_days=r["trial_days"],
        commission_percent=r["commission_percent"],
        active=r["active"],
        stripe_price_id=r["stripe_price_id"],
    )


def snippet(platform: str, key: str, cta: str) -> str:
    base = branding(Platform(platform)).base_url
    return (
        f'<a href="{base}/pay/{key}" data-button-key="{key}" '
        f'class="weokto-pay-button">{html.escape(cta)}</a>'
    )


def button_read(r: dict[str, Any], platform: str) -> ButtonRead:
    return ButtonRead(
        id=r["id"],
        button_key=r["button_key"],
        product_id=r["product"],
        plan_id=r["plan"],
        display_name=r["display_name"],
        description=r["description"],
        cta_text=r["cta_text"],
        success_url=r["success_url"],
        cancel_url=r["cancel_url"],
        active=r["active"],
        snippet=snippet(platform, r["button_key"], r["cta_text"]),
    )


async def access_product(user: CurrentUser, product_id: int) -> ProductRead:
    """A product of the caller's platform; another platform's is simply not found."""
    row = (
        await Product.select()
        .where((Product.id == product_id) & (Product.platform == user.platform))
        .first()
    )
    if row is None:
        raise NotFound("No such product", code="product_not_found", details={"field": "product_id"})
    return product_read(row)


async def access_plan(user: CurrentUser, plan_id: int) -> PlanRead:
    """A plan of a product of the caller's platform."""
    row = (
        await Plan.select(*Plan.all_columns(), Plan.product.platform.as_alias("platform"))
        .where(Plan.id == plan_id)
        .first()
    )
    if row is None or row["platform"] != user.platform:
        raise NotFound("No such plan", code="plan_not_found", details={"field": "plan_id"})
    return plan_read(row)


async def access_button(user: CurrentUser, button_id: int) -> ButtonRead:
    """A payment button of a product of the caller's platform."""
    row = (
        await PaymentButton.select(
            *PaymentButton.all_columns(), PaymentButton.product.platform.as_alias("platform")
        )
        .where(PaymentButton.id == button_id)
        .first()
    )
    if row is None or row["platform"] != user.platform:
        raise NotFound("No such payment button", code="button_not_found")
    return button_read(row, user.platform)


async def list_products(user: CurrentUser) -> list[ProductRead]:
    rows = await Product.select().where(Product.platform == user.platform).order_by(Product.id)
    return [product_read(r) for r in rows]


async def list_plans(user: CurrentUser, product_id: int | None) -> list[PlanRead]:
    query = Plan.select().where(Plan.product.platform == user.platform)
    if product_id is not None:
        query = query.where(Plan.product == product_id)
    return [plan_read(r) for r in await query.order_by(Plan.id)]


async def list_buttons(user: CurrentUser) -> list[ButtonRead]:
    rows = (
        await PaymentButton.select()
        .where(PaymentButton.product.platform == user.platform)
        .order_by(PaymentButton.id)
    )
    return [button_read(r, user.platform) for r in rows]


async def button_config(platform: Platform, key: str) -> ButtonConfig:
    rows = await PaymentButton.raw(
        "SELECT b.*, p.name AS product_name, p.platform, p.active AS product_active, "
        "pl.name AS plan_name, pl.price_cents, pl.currency, pl.interval, pl.trial_days, "
        "pl.active AS plan_active FROM payment_buttons b JOIN products p ON p.id = b.product "
        "JOIN plans pl ON pl.id = b.plan WHERE b.button_key = {}",
        key,
    )
    r = rows[0] if rows else None
    if (
        r is None
        or r["platform"] != platform.value
        or not r["active"]
        or not r["product_active"]
        or not r["plan_active"]
    ):
        raise NotFound("No such payment button", code="button_not_found")
    return ButtonConfig(
        button_key=r["button_key"],
        display_name=r["display_name"],
        description=r["description"],
        cta_text=r["cta_text"],
        product_name=r["product_name"],
        plan_name=r["plan_name"],
        price_cents=r["price_cents"],
        currency=r["currency"],
        interval=Interval(r["interval"]),
        trial_days=r["trial_days"],
    )
