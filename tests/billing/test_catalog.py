"""Catalog REST: sellers only, per platform, validation errors that name the field."""

from __future__ import annotations

import pytest

from db.auth.tables import User
from tests.factories import make_guild
from tests.fixtures import until


@pytest.fixture
async def seller(client, login):
    await User.insert(User(platform="weokto", email="seller@example.com", role="owner"))
    await login(client, "seller@example.com")
    return client


async def _product_plan_button(seller):
    guild = await make_guild(slug="premium-club", tier="premium")
    product = (
        await seller.post(
            "/api/owner/products",
            json={"name": "Premium Club", "description": "All access", "guild_id": guild["id"]},
        )
    ).json()
    plan = (
        await seller.post(
            "/api/owner/plans",
            json={
                "product_id": product["id"],
                "name": "Monthly",
                "price_cents": 2900,
                "interval": "MONTHLY",
                "trial_days": 7,
            },
        )
    ).json()
    button = (
        await seller.post(
            "/api/owner/payment-buttons",
            json={
                "plan_id": plan["id"],
                "display_name": "Join Premium",
                "cta_text": "Join <now>",
                "success_url": "https://example.com/thanks",
                "cancel_url": "https://example.com/",
            },
        )
    ).json()
    return product, plan, button


async def test_owner_creates_product_plan_and_button(seller):
    product, plan, button = await _product_plan_button(seller)
    assert product["platform"] == "weokto" and product["stripe_product_id"] is None
    assert (plan["price_cents"], plan["currency"], plan["commission_percent"]) == (2900, "eur", 30)
    assert len(button["button_key"]) >= 12 and button["product_id"] == product["id"]
    assert f"/pay/{button['button_key']}" in button["snippet"]
    assert "Join &lt;now&gt;" in button["snippet"]  # the CTA is escaped in the snippet
    listed = (await seller.get(f"/api/owner/plans?product_id={product['id']}")).json()
    assert [p["id"] for p in listed] == [plan["id"]]


async def test_button_config_is_public_and_hides_inactive(seller, make_client):
    _, plan, button = await _product_plan_button(seller)
    anonymous = await make_client()
    res = await anonymous.get(f"/api/payments/button-config?key={button['button_key']}")
    assert res.status_code == 200
    assert res.json()["price_cents"] == 2900 and res.json()["trial_days"] == 7
    assert (await anonymous.get("/api/payments/button-config?key=nope")).status_code == 404
    stam = await make_client("stam")
    assert (
        await stam.get(f"/api/payments/button-config?key={button['button_key']}")
    ).status_code == 404
    await seller.patch(f"/api/owner/plans/{plan['id']}", json={"active": False})
    res = await anonymous.get(f"/api/payments/button-config?key={button['button_key']}")
    assert res.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "P", "price_cents": 0, "interval": "MONTHLY"}, "price_cents"),
        ({"name": "P", "price_cents": 12.5, "interval": "MONTHLY"}, "price_cents"),
        ({"name": "P", "price_cents": 100, "interval": "WEEKLY"}, "interval"),
        ({"name": "P", "price_cents": 100, "interval": "MONTHLY", "currency": "EURO"}, "currency"),
        (
            {"name": "P", "price_cents": 100, "interval": "MONTHLY", "commission_percent": 101},
            "commission_percent",
        ),
        ({"name": "", "price_cents": 100, "interval": "MONTHLY"}, "name"),
        ({"name": "P", "price_cents": 100, "interval": "MONTHLY", "trial_days": -1}, "trial_days"),
    ],
)
async def test_plan_validation_names_the_field(seller, body, field):
    product = (await seller.post("/api/owner/products", json={"name": "X"})).json()
    res = await seller.post("/api/owner/plans", json={"product_id": product["id"], **body})
    assert res.status_code == 400, res.text
    assert field in str(res.json()["error"]["details"])


async def test_a_commission_is_offered_only_on_plans_in_the_ledger_currency(seller):
    product = (await seller.post("/api/owner/products", json={"name": "Dollar Club"})).json()
    base = {
        "product_id": product["id"],
        "name": "Monthly",
        "price_cents": 2000,
        "interval": "MONTHLY",
        "currency": "usd",
    }
    refused = await seller.post("/api/owner/plans", json={**base, "commission_percent": 25})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "commission_currency"
    assert "EUR" in refused.json()["error"]["message"]
    assert (await seller.get(f"/api/owner/plans?product_id={product['id']}")).json() == []
    plan = (await seller.post("/api/owner/plans", json=base)).json()
    assert (plan["currency"], plan["commission_percent"]) == ("usd", 0)  # no default commission
    patched = await seller.patch(f"/api/owner/plans/{plan['id']}", json={"commission_percent": 10})
    assert patched.status_code == 400 and patched.json()["error"]["code"] == "commission_currency"
    renamed = await seller.patch(f"/api/owner/plans/{plan['id']}", json={"name": "Monthly USD"})
    assert renamed.status_code == 200 and renamed.json()["commission_percent"] == 0
    eur = (
        await seller.post(
            "/api/owner/plans", json={**base, "currency": "eur", "commission_percent": 0}
        )
    ).json()
    assert eur["commission_percent"] == 0  # an explicit 0 in euros is kept, not the default


async def test_button_key_conflict_and_bad_urls(seller):
    _, plan, button = await _product_plan_button(seller)
    base = {
        "plan_id": plan["id"],
        "display_name": "B",
        "success_url": "https://a.b/ok",
        "cancel_url": "https://a.b/no",
    }
    dup = await seller.post(
        "/api/owner/payment-buttons", json={**base, "button_key": button["button_key"]}
    )
    assert dup.status_code == 409 and dup.json()["error"]["details"] == {"field": "button_key"}
    bad = await seller.post(
        "/api/owner/payment-buttons", json={**base, "success_url": "javascript:alert(1)"}
    )
    assert bad.status_code == 400 and "success_url" in str(bad.json()["error"]["details"])


async def test_members_cannot_sell_and_platforms_do_not_mix(seller, make_client, login):
    product, _, _ = await _product_plan_button(seller)
    member = await make_client()
    await login(member, "buyer@example.com")
    assert (await member.get("/api/owner/products")).status_code == 403
    assert (await member.post("/api/owner/products", json={"name": "x"})).status_code == 403
    await User.insert(User(platform="stam", email="stam-owner@example.com", role="owner"))
    stam = await make_client("stam")
    await login(stam, "stam-owner@example.com")
    assert (await stam.get("/api/owner/products")).json() == []
    res = await stam.post(
        "/api/owner/plans",
        json={
            "product_id": product["id"],
            "name": "Sneaky",
            "price_cents": 100,
            "interval": "MONTHLY",
        },
    )
    assert res.status_code == 404 and res.json()["error"]["details"] == {"field": "product_id"}
    res = await stam.patch(f"/api/owner/products/{product['id']}", json={"name": "mine"})
    assert res.status_code == 404


async def test_products_and_plans_are_mirrored_to_stripe_once(
    seller, stripe_emulator, celery_worker
):
    from db.billing.tables import Plan
    from server.domains.catalog.actions import do_sync_plan
    from server.integrations.stripe import client

    product = (await seller.post("/api/owner/products", json={"name": "Quarterly Club"})).json()
    plan = (
        await seller.post(
            "/api/owner/plans",
            json={
                "product_id": product["id"],
                "name": "Quarter",
                "price_cents": 7500,
                "interval": "QUARTERLY",
                "currency": "usd",
            },
        )
    ).json()

    async def price_id():
        row = await Plan.select(Plan.stripe_price_id).where(Plan.id == plan["id"]).first()
        return row["stripe_price_id"]

    stripe_price = await until(price_id)
    price = await client().v1.prices.retrieve_async(stripe_price)
    assert (price.unit_amount, price.currency) == (7500, "usd")
    assert (price.recurring.interval, price.recurring.interval_count) == ("month", 3)
    product_row = (await seller.get("/api/owner/products")).json()[0]
    assert product_row["stripe_product_id"] == price.product
    # Running the sync again (a redelivered task) makes no second Stripe object.
    assert await do_sync_plan(plan["id"]) == stripe_price
    listed = await client().v1.prices.list_async(params={"limit": 100})
    assert [p.id for p in listed.data if p.product == price.product] == [stripe_price]
