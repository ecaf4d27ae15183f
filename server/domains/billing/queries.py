"""Billing reads: a buyer sees only their own purchases."""
from __future__ import annotations

from typing import Any

from db.billing.tables import Purchase
from server.domains.auth.schemas import CurrentUser


async def purchase_for_session(user: CurrentUser, session_id: str) -> dict[str, Any] | None:
    if not session_id:
        return None
    return await Purchase.select(
        Purchase.id, Purchase.status, Purchase.guild, Purchase.guild.slug.as_alias("guild_slug"),
        Purchase.product.name.as_alias("product_name"),
    ).where((Purchase.stripe_checkout_session_id == session_id)
            & (Purchase.user == user.id)).first()
