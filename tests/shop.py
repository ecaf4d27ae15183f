"""A seller set up through the owner API: a premium guild with a paid channel, product, plan, button."""

from __future__ import annotations

from typing import Any

from db.auth.tables import User
from tests.factories import make_channel, make_guild


async def open_shop(
    make_client: Any, login: Any, stripe_emulator: Any, price_cents: int
) -> dict[str, Any]:
    await User.insert(User(platform="weokto", email="shop-owner@example.com", role="owner"))
    owner = await make_client()
    await login(owner, "shop-owner@example.com")
    guild = await make_guild(slug="vip-guild", tier="premium")
    await make_channel(guild["id"], name="vip", requires_paid=True)
    product = (
        await owner.post("/api/owner/products", json={"name": "VIP", "guild_id": guild["id"]})
    ).json()
    plan = (
        await owner.post(
            "/api/owner/plans",
            json={
                "product_id": product["id"],
                "name": "Monthly",
                "price_cents": price_cents,
                "interval": "MONTHLY",
            },
        )
    ).json()
    button = (
        await owner.post(
            "/api/owner/payment-buttons",
            json={
                "plan_id": plan["id"],
                "display_name": "Go VIP",
                "success_url": "https://x.test/ok",
                "cancel_url": "https://x.test/no",
            },
        )
    ).json()
    return {
        "owner": owner,
        "guild": guild,
        "plan": plan,
        "button": button,
        "emulator": stripe_emulator,
    }
