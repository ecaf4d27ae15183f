"""Billing reads: a buyer sees only their own purchases."""
from __future__ import annotations

from typing import Any

from db.billing.tables import Purchase
from server.domains.auth.schemas import CurrentUser
from server.domains.billing.purchases import grants_access
from server.domains.billing.schemas import PurchaseRead
from server.errors import NotFound

_SELECT = (
    "SELECT p.*, pr.name AS product_name, pl.name AS plan_name, pl.price_cents, pl.currency, "
    "pl.interval FROM purchases p JOIN products pr ON pr.id = p.product "
    "JOIN plans pl ON pl.id = p.plan ")


def purchase_read(r: dict[str, Any]) -> PurchaseRead:
    return PurchaseRead(
        id=r["id"], product_id=r["product"], product_name=r["product_name"], plan_id=r["plan"],
        plan_name=r["plan_name"], price_cents=r["price_cents"], currency=r["currency"],
        interval=r["interval"], guild_id=r["guild"], status=r["status"],
        grants_access=grants_access(r["status"]), current_period_end=r["current_period_end"],
        cancel_at_period_end=r["cancel_at_period_end"], created_at=r["created_at"])


async def list_purchases(user: CurrentUser) -> list[PurchaseRead]:
    rows = await Purchase.raw(_SELECT + "WHERE p.\"user\" = {} ORDER BY p.id DESC", user.id)
    return [purchase_read(r) for r in rows]


async def access_purchase(user: CurrentUser, purchase_id: int) -> PurchaseRead:
    """The buyer's own purchase; anyone else's is simply not found."""
    rows = await Purchase.raw(_SELECT + "WHERE p.id = {} AND p.\"user\" = {}", purchase_id, user.id)
    if not rows:
        raise NotFound("No such purchase", code="purchase_not_found")
    return purchase_read(rows[0])


def _purchase_columns() -> tuple[Any, ...]:
    return (Purchase.id, Purchase.status, Purchase.guild,
            Purchase.guild.slug.as_alias("guild_slug"),
            Purchase.product.name.as_alias("product_name"))


async def purchase_for_session(user: CurrentUser, session_id: str) -> dict[str, Any] | None:
    """The buyer's purchase made by this Checkout Session, if Stripe has confirmed it yet."""
    if not session_id:
        return None
    found = await Purchase.select(*_purchase_columns()).where(
        (Purchase.stripe_checkout_session_id == session_id) & (Purchase.user == user.id)).first()
    if found is not None:
        return found
    # invoice.paid may have created the purchase before checkout.session.completed named the
    # session: ask Stripe which subscription the session made.
    from server.domains.billing.stripe_api import client

    try:
        session = (await client().v1.checkout.sessions.retrieve_async(session_id)).to_dict()
    except Exception:  # unknown id, or Stripe unreachable: not confirmed yet
        return None
    if session.get("client_reference_id") != str(user.id) or not session.get("subscription"):
        return None
    return await Purchase.select(*_purchase_columns()).where(
        (Purchase.stripe_subscription_id == session["subscription"])
        & (Purchase.user == user.id)).first()
