"""Access checks: one rule for products and guilds, with a time-bounded grace when past due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db.billing.tables import Plan, Product, Purchase
from db.guilds.tables import GuildMember
from server.domains.billing.actions.purchases import do_end_lapsed_grace
from server.domains.paid_access import GRACE
from tests.billing.test_lifecycle import buy_then_fail_renewal
from tests.billing.test_purchase_flow import _buy, _purchase_of, _until, shop  # noqa: F401
from tests.factories import make_guild, make_member


async def _catalog(platform: str = "weokto") -> dict:
    guild = await make_guild(platform=platform)
    product = (
        await Product.insert(Product(platform=platform, guild=guild["id"], name="Club")).returning(
            *Product.all_columns()
        )
    )[0]
    plan = (
        await Plan.insert(
            Plan(product=product["id"], name="Monthly", price_cents=1900, interval="MONTHLY")
        ).returning(*Plan.all_columns())
    )[0]
    return {"guild": guild, "product": product, "plan": plan}


async def _purchase(user_id: int, cat: dict, status: str, **extra: object) -> dict:
    rows = await Purchase.insert(
        Purchase(
            user=user_id,
            product=cat["product"]["id"],
            plan=cat["plan"]["id"],
            guild=cat["guild"]["id"],
            status=status,
            **extra,
        )
    ).returning(*Purchase.all_columns())
    return rows[0]


@pytest.fixture
async def buyer(make_client, login):
    client = await make_client()
    me = (await login(client, "access@example.com"))["user"]
    return client, me


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("status", "extra", "has_access"),
    [
        ("ACTIVE", {"current_period_end": NOW + timedelta(days=20)}, True),
        ("TRIAL", {"current_period_end": NOW + timedelta(days=5)}, True),
        ("PAST_DUE", {"past_due_since": NOW - timedelta(days=2)}, True),
        ("PAST_DUE", {"past_due_since": NOW - timedelta(days=8)}, False),
        ("CANCELLED", {"current_period_end": NOW + timedelta(days=3)}, True),
        ("CANCELLED", {"current_period_end": NOW - timedelta(hours=1)}, False),
        ("EXPIRED", {}, False),
    ],
)
async def test_product_access_follows_the_purchase(buyer, status, extra, has_access):
    client, me = buyer
    cat = await _catalog()
    await _purchase(me["id"], cat, status, **extra)
    res = await client.get(f"/api/products/{cat['product']['id']}/access")
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["product_id"], body["has_access"], body["status"]) == (
        cat["product"]["id"],
        has_access,
        status,
    )
    if status == "PAST_DUE":  # the grace ends 7 days after the first failure
        until = datetime.fromisoformat(body["until"])
        assert until == extra["past_due_since"] + GRACE
    guild = await client.get(f"/api/guilds/{cat['guild']['slug']}/access")
    assert guild.json()["has_access"] is has_access


async def test_no_purchase_unknown_and_foreign_products(buyer, make_client):
    client, me = buyer
    cat = await _catalog()
    res = await client.get(f"/api/products/{cat['product']['id']}/access")
    assert res.json() == {
        "has_access": False,
        "status": "NONE",
        "until": None,
        "product_id": cat["product"]["id"],
        "guild_slug": None,
    }
    assert (await client.get("/api/products/999999/access")).status_code == 404
    stam = await _catalog("stam")
    await _purchase(me["id"], stam, "ACTIVE")
    res = await client.get(f"/api/products/{stam['product']['id']}/access")
    assert res.status_code == 404 and res.json()["error"]["code"] == "product_not_found"
    assert (await client.get(f"/api/guilds/{stam['guild']['slug']}/access")).status_code == 404
    anonymous = await make_client()
    assert (await anonymous.get(f"/api/products/{cat['product']['id']}/access")).status_code == 401


async def test_a_granting_purchase_wins_over_an_expired_one(buyer):
    client, me = buyer
    cat = await _catalog()
    await _purchase(me["id"], cat, "ACTIVE", current_period_end=NOW + timedelta(days=9))
    await _purchase(me["id"], cat, "EXPIRED")  # newer, but ended
    body = (await client.get(f"/api/products/{cat['product']['id']}/access")).json()
    assert (body["has_access"], body["status"]) == (True, "ACTIVE")


async def test_the_grace_sweep_ends_access_once_and_tells_the_buyer(captured_events):
    from tests.factories import make_user

    cat = await _catalog()
    lapsed, fresh, covered = (await make_user(), await make_user(), await make_user())
    for user in (lapsed, fresh, covered):
        await make_member(cat["guild"]["id"], user["id"], paid_access=True)
    await _purchase(lapsed["id"], cat, "PAST_DUE", past_due_since=NOW - GRACE - timedelta(hours=1))
    await _purchase(fresh["id"], cat, "PAST_DUE", past_due_since=NOW - timedelta(days=1))
    await _purchase(covered["id"], cat, "PAST_DUE", past_due_since=NOW - timedelta(days=30))
    await _purchase(covered["id"], cat, "ACTIVE", current_period_end=NOW + timedelta(days=30))

    assert await do_end_lapsed_grace() == 1
    assert await do_end_lapsed_grace() == 0  # the next hour: nothing left to do
    paid = {
        r["user"]: r["paid_access"]
        for r in await GuildMember.select(GuildMember.user, GuildMember.paid_access).where(
            GuildMember.guild == cat["guild"]["id"]
        )
    }
    assert paid == {lapsed["id"]: False, fresh["id"]: True, covered["id"]: True}
    ended = [e for e in captured_events if e["event"] == "access_ended"]
    assert ended == [
        {
            "room": f"user:{lapsed['id']}",
            "event": "access_ended",
            "payload": {
                "type": "access_ended",
                "guild_id": cat["guild"]["id"],
                "channel_ids": [],  # this guild has no paid channel to leave
                "reason": "payment_grace_ended",
            },
        }
    ]


def test_the_sweep_runs_hourly_from_beat():
    import tasks.billing  # noqa: F401  -- registers the billing tasks
    from tasks.app import celery_app

    entry = celery_app.conf.beat_schedule["payment-grace"]
    assert entry["task"] == "tasks.billing.end_lapsed_grace"
    assert entry["task"] in celery_app.tasks


async def test_a_failed_renewal_keeps_access_for_the_grace_only(shop, make_client, login):
    buyer = await make_client()
    me = await buy_then_fail_renewal(shop, buyer, login, "grace@example.com")

    async def past_due():
        row = await _purchase_of(me["id"])
        return row if row["status"] == "PAST_DUE" else None

    first = await _until(past_due)
    assert first["past_due_since"] is not None
    product_id = shop["plan"]["product_id"]
    body = (await buyer.get(f"/api/products/{product_id}/access")).json()
    assert (body["has_access"], body["status"]) == (True, "PAST_DUE")
    # Eight days later (in our clock) the hourly sweep ends the access; Stripe still retries.
    await Purchase.update(
        {Purchase.past_due_since: first["past_due_since"] - timedelta(days=8)}
    ).where(Purchase.id == first["id"])
    assert await do_end_lapsed_grace() == 1
    body = (await buyer.get(f"/api/products/{product_id}/access")).json()
    assert (body["has_access"], body["status"]) == (False, "PAST_DUE")
    channels = (await buyer.get("/api/guilds/vip-guild/channels")).json()
    assert channels["categories"][0]["channels"][0]["can_read"] is False
