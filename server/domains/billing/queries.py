"""Billing reads: a buyer sees only their own purchases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from piccolo.columns.combination import Combinable

from db.billing.tables import Invoice, Product, Purchase
from db.guilds.tables import Guild
from server.domains.auth.schemas import CurrentUser
from server.domains.billing.receipts import receipt_number, receipt_path
from server.domains.billing.schemas import AccessRead, InvoiceRead, PurchaseRead, SessionPurchase
from server.domains.paid_access import PurchaseTerms, decide_access, purchase_access
from server.errors import NotFound

_SELECT = (
    "SELECT p.*, pr.name AS product_name, pl.name AS plan_name, pl.price_cents, pl.currency, "
    "pl.interval FROM purchases p JOIN products pr ON pr.id = p.product "
    "JOIN plans pl ON pl.id = p.plan "
)


def _terms(r: dict[str, Any]) -> PurchaseTerms:
    return PurchaseTerms(r["status"], r["current_period_end"], r["past_due_since"])


async def access_rows(
    user_id: int, *, product_id: int | None = None, guild_id: int | None = None
) -> list[PurchaseTerms]:
    """The terms of the user's purchases of a product or for a guild, newest first."""
    where: Combinable = Purchase.user == user_id
    where &= (
        (Purchase.product == product_id) if product_id is not None else (Purchase.guild == guild_id)
    )
    rows = (
        await Purchase.select(Purchase.status, Purchase.current_period_end, Purchase.past_due_since)
        .where(where)
        .order_by(Purchase.id, ascending=False)
    )
    return [_terms(r) for r in rows]


def _purchase_read(r: dict[str, Any]) -> PurchaseRead:
    return PurchaseRead(
        id=r["id"],
        product_id=r["product"],
        product_name=r["product_name"],
        plan_id=r["plan"],
        plan_name=r["plan_name"],
        price_cents=r["price_cents"],
        currency=r["currency"],
        interval=r["interval"],
        guild_id=r["guild"],
        status=r["status"],
        grants_access=purchase_access(_terms(r), datetime.now(UTC)).has_access,
        current_period_end=r["current_period_end"],
        cancel_at_period_end=r["cancel_at_period_end"],
        created_at=r["created_at"],
    )


async def list_purchases(user: CurrentUser) -> list[PurchaseRead]:
    rows = await Purchase.raw(_SELECT + 'WHERE p."user" = {} ORDER BY p.id DESC', user.id)
    return [_purchase_read(r) for r in rows]


async def access_purchase(user: CurrentUser, purchase_id: int) -> PurchaseRead:
    """The buyer's own purchase; anyone else's is simply not found."""
    rows = await Purchase.raw(_SELECT + 'WHERE p.id = {} AND p."user" = {}', purchase_id, user.id)
    if not rows:
        raise NotFound("No such purchase", code="purchase_not_found")
    read = _purchase_read(rows[0])
    read.invoices = await _invoices(user.platform, purchase_id)
    return read


def _invoice_read(platform: str, r: dict[str, Any]) -> InvoiceRead:
    paid = r["status"] == "paid" and r["paid_at"] is not None
    return InvoiceRead(
        id=r["id"],
        stripe_invoice_id=r["stripe_invoice_id"],
        status=r["status"],
        amount_paid_cents=r["amount_paid_cents"],
        amount_refunded_cents=r["amount_refunded_cents"],
        currency=r["currency"],
        paid_at=r["paid_at"],
        receipt_number=receipt_number(platform, r["id"]) if paid else None,
        receipt_url=receipt_path(r["purchase"], r["id"]) if paid else None,
    )


async def _invoices(platform: str, purchase_id: int) -> list[InvoiceRead]:
    rows = await Invoice.select().where(Invoice.purchase == purchase_id).order_by(Invoice.id)
    return [_invoice_read(platform, r) for r in rows]


async def product_access(user: CurrentUser, product_id: int) -> AccessRead:
    """404 for a product of another platform, as for an unknown one."""
    if not await Product.exists().where(
        (Product.id == product_id) & (Product.platform == user.platform)
    ):
        raise NotFound("No such product", code="product_not_found")
    state = decide_access(await access_rows(user.id, product_id=product_id))
    return AccessRead(
        has_access=state.has_access, status=state.status, until=state.until, product_id=product_id
    )


async def guild_access(user: CurrentUser, slug: str) -> AccessRead:
    """What the user's purchases give for this guild (a grant by its owner is not a purchase:
    the channels' own checks see that too)."""
    guild = (
        await Guild.select(Guild.id)
        .where((Guild.slug == slug) & (Guild.platform == user.platform))
        .first()
    )
    if guild is None:
        raise NotFound("No such guild", code="guild_not_found")
    state = decide_access(await access_rows(user.id, guild_id=guild["id"]))
    return AccessRead(
        has_access=state.has_access, status=state.status, until=state.until, guild_slug=slug
    )


def _purchase_columns() -> tuple[Any, ...]:
    return (
        Purchase.id,
        Purchase.status,
        Purchase.guild.as_alias("guild_id"),
        Purchase.guild.slug.as_alias("guild_slug"),
        Purchase.product.name.as_alias("product_name"),
    )


async def _session_purchase(where: Combinable) -> SessionPurchase | None:
    row = await Purchase.select(*_purchase_columns()).where(where).first()
    return None if row is None else msgspec.convert(row, SessionPurchase)


async def purchase_for_session(user: CurrentUser, session_id: str) -> SessionPurchase | None:
    """The buyer's purchase made by this Checkout Session, if Stripe has confirmed it yet."""
    if not session_id:
        return None
    found = await _session_purchase(
        (Purchase.stripe_checkout_session_id == session_id) & (Purchase.user == user.id)
    )
    if found is not None:
        return found
    # invoice.paid may have created the purchase before checkout.session.completed named the
    # session: ask Stripe which subscription the session made.
    from server.integrations.stripe import CheckoutSessionView, client

    try:
        stripe_session = await client().v1.checkout.sessions.retrieve_async(session_id)
    except Exception:  # unknown id, or Stripe unreachable: not confirmed yet
        return None
    session = msgspec.convert(stripe_session.to_dict(), CheckoutSessionView)
    if session.client_reference_id != str(user.id) or not session.subscription:
        return None
    return await _session_purchase(
        (Purchase.stripe_subscription_id == session.subscription) & (Purchase.user == user.id)
    )
