"""Affiliate dashboard API: stats (cached in Redis, dropped by touches), commissions, payouts,
and the owner's affiliates views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.redis import get_redis
from db.affiliates.tables import Commission, Payout
from db.billing.tables import Invoice
from db.tracking.tables import Attribution, PurchaseAttribution, TrackingEvent
from realtime import emitter
from server.domains.affiliates.events import stats_cache_key
from server.domains.affiliates.schemas import AffiliateProfileRow, profile_row
from server.domains.tracking import queries
from tests.affiliates.test_tracking import make_affiliate, make_plan, make_purchase, updates
from tests.factories import make_user

NOW = datetime.now(UTC)
FAR = NOW + timedelta(days=40)


async def _attribute(aff: dict[str, Any], customer_id: int, source: str = "link") -> None:
    await Attribution.insert(
        Attribution(
            customer=customer_id,
            affiliate=aff["id"],
            source=source,
            clicked_at=NOW,
            expires_at=NOW + timedelta(days=30),
        )
    )


async def _bought(
    aff: dict[str, Any], plan_id: int, status: str = "ACTIVE", source: str = "link", **extra: Any
) -> tuple[int, int]:
    """A customer attributed to `aff` with one attributed purchase; (user id, purchase id)."""
    customer = await make_user()
    await _attribute(aff, customer["id"], source)
    purchase = await make_purchase(customer["id"], plan_id, status, **extra)
    await PurchaseAttribution.insert(
        PurchaseAttribution(purchase=purchase, affiliate=aff["id"], source=source)
    )
    return customer["id"], purchase


async def _commission(
    aff: dict[str, Any],
    purchase_id: int,
    amount: int,
    status: str,
    free: bool = False,
    created: datetime = NOW,
) -> int:
    invoice = (
        await Invoice.insert(
            Invoice(
                stripe_invoice_id=f"in_{purchase_id}_{amount}_{status}",
                purchase=purchase_id,
                amount_paid_cents=amount * 4,
                status="paid",
                paid_at=created,
            )
        ).returning(Invoice.id)
    )[0]
    locked = amount if status == "PENDING_LOCK" else 0
    row = await Commission.insert(
        Commission(
            affiliate=aff["id"],
            invoice=invoice["id"],
            purchase=purchase_id,
            from_free_product=free,
            base_cents=amount * 4,
            commission_percent=25,
            amount_cents=amount,
            profile="AGE_0_30",
            main_cents=amount,
            ext_cents=0,
            main_unlock_at=created + timedelta(days=30),
            ext_unlock_at=created + timedelta(days=30),
            main_locked_cents=locked,
            ext_locked_cents=0,
            status=status,
            created_at=created,
        )
    ).returning(Commission.id)
    return row[0]["id"]


async def _signed_in_affiliate(
    make_client,
    login,
    slug: str = "alice",
) -> tuple[Any, dict[str, Any]]:
    aff = await make_affiliate(slug, email=f"{slug}@example.com")
    browser = await make_client()
    await login(browser, f"{slug}@example.com")
    return browser, aff


async def test_stats_count_clicks_signups_active_customers_and_mrr(make_client, login):
    browser, aff = await _signed_in_affiliate(make_client, login)
    for _ in range(3):
        await TrackingEvent.insert(TrackingEvent(affiliate=aff["id"]))
    monthly, quarterly = await make_plan(3000), await make_plan(10000, "QUARTERLY", "Q")
    yearly, once = await make_plan(12001, "ANNUALLY", "Y"), await make_plan(50000, "ONE_TIME", "O")
    await _bought(aff, monthly)  # 3000 / month
    await _bought(aff, quarterly)  # 10000 / 3 -> 3333
    await _bought(aff, yearly, "TRIAL")  # a customer, no revenue yet
    await _bought(aff, once)  # a customer, not recurring
    await _bought(aff, monthly, "CANCELLED", current_period_end=FAR)  # paid up to the end
    await _bought(aff, monthly, "EXPIRED")  # gone
    await _bought(aff, monthly, "PAST_DUE", past_due_since=NOW - timedelta(days=10))  # lapsed
    await _attribute(aff, (await make_user())["id"])  # signed up, bought nothing
    res = await browser.get("/api/affiliate/stats")
    assert res.status_code == 200, res.text
    body = res.json()
    assert {k: body[k] for k in ("clicks", "signups", "active_customers", "mrr_cents")} == {
        "clicks": 3,
        "signups": 8,
        "active_customers": 5,
        "mrr_cents": 3000 + 3333 + 3000,
    }
    assert body["slug"] == "alice" and body["referral_url"].endswith("/?ref=alice")
    assert body["locked_cents"] == body["available_cents"] == body["debt_cents"] == 0
    assert body["next_unlock_at"] is None and body["currency"] == "eur"


async def test_stats_need_an_affiliate_profile(make_client, login, client):
    assert (await client.get("/api/affiliate/stats")).status_code == 401
    member = await make_client()
    await login(member, "plain@example.com")
    for path in ("/api/affiliate/stats", "/api/affiliate/commissions", "/api/affiliate/payouts"):
        res = await member.get(path)
        assert res.status_code == 404 and res.json()["error"]["code"] == "not_an_affiliate", path


async def test_stats_are_cached_until_a_touch_drops_them(client, captured_events):
    aff = await make_affiliate()
    first = await queries.stats(profile_row(aff))
    cached = await get_redis().get(stats_cache_key(aff["id"]))
    assert cached is not None and '"clicks":0' in cached
    await TrackingEvent.insert(TrackingEvent(affiliate=aff["id"]))  # behind the cache's back
    assert (await queries.stats(profile_row(aff))).clicks == 0
    assert (await queries.stats(profile_row(aff))).computed_at == first.computed_at
    await client.get("/api/affiliate/track?ref=alice")  # a click touches
    assert await get_redis().get(stats_cache_key(aff["id"])) is None
    assert (await queries.stats(profile_row(aff))).clicks == 2
    assert updates(captured_events, aff["user"]) == ["click"]


async def test_the_cache_is_dropped_before_the_push_goes_out(client):
    """A dashboard refetches as soon as the push arrives: by then the old figures are gone."""
    aff = await make_affiliate()
    await queries.stats(profile_row(aff))
    key = stats_cache_key(aff["id"])
    assert await get_redis().exists(key)
    seen: list[tuple[str, int]] = []

    async def sender(item: emitter.QueuedEvent) -> None:
        seen.append((item.event, await get_redis().exists(key)))

    emitter.set_sender(sender)
    try:
        assert (await client.get("/api/affiliate/track?ref=alice")).status_code == 200
    finally:
        emitter.set_sender(None)
    assert seen == [("affiliate_update", 0)]


async def test_a_touch_during_a_computation_keeps_its_result_out_of_the_cache(monkeypatch):
    aff = await make_affiliate()
    compute = queries.compute_stats

    async def touched_meanwhile(profile: AffiliateProfileRow) -> Any:
        value = await compute(profile)
        await get_redis().delete(stats_cache_key(profile.id))  # what a touch does
        return value

    monkeypatch.setattr(queries, "compute_stats", touched_meanwhile)
    await queries.stats(profile_row(aff))
    assert await get_redis().get(stats_cache_key(aff["id"])) is None
    monkeypatch.setattr(queries, "compute_stats", compute)
    await queries.stats(profile_row(aff))
    assert await get_redis().get(stats_cache_key(aff["id"])) is not None


async def test_commissions_list_with_filters_and_masked_customers(make_client, login):
    browser, aff = await _signed_in_affiliate(make_client, login)
    plan = await make_plan()
    _, p1 = await _bought(aff, plan)
    _, p2 = await _bought(aff, plan, source="free_product")
    old = NOW - timedelta(days=20)
    c1 = await _commission(aff, p1, 750, "PENDING_LOCK", created=old)
    c2 = await _commission(aff, p1, 750, "MATURED")
    c3 = await _commission(aff, p2, 750, "PENDING_LOCK", free=True)
    other = await make_affiliate("bob")
    _, p3 = await _bought(other, plan)
    await _commission(other, p3, 999, "PENDING_LOCK")

    async def ids(**params: Any) -> list[int]:
        res = await browser.get("/api/affiliate/commissions", params=params)
        assert res.status_code == 200, res.text
        return [c["id"] for c in res.json()]

    assert await ids() == [c3, c2, c1]
    assert await ids(status="PENDING_LOCK") == [c3, c1]
    assert await ids(source="free_product") == [c3]
    assert await ids(source="link") == [c2, c1]
    assert await ids(since=(NOW - timedelta(days=1)).isoformat()) == [c3, c2]
    assert await ids(until=(NOW - timedelta(days=1)).isoformat()) == [c1]
    assert await ids(before_id=c3, limit=1) == [c2]
    first = (await browser.get("/api/affiliate/commissions")).json()[0]
    assert first["customer_email"].startswith(first["customer_email"][:2])
    assert "***@example.com" in first["customer_email"] and first["from_free_product"] is True
    assert first["unlock_at"] is not None and first["amount_cents"] == 750
    assert (await browser.get("/api/affiliate/commissions?status=NOPE")).status_code == 400
    assert (await browser.get("/api/affiliate/commissions?limit=0")).status_code == 400


async def test_payouts_list_is_mine_newest_first(make_client, login):
    browser, aff = await _signed_in_affiliate(make_client, login)
    other = await make_affiliate("bob")
    for who, amount in ((aff, 1000), (other, 5000), (aff, 2500)):
        await Payout.insert(
            Payout(
                affiliate=who["id"], amount_cents=amount, method="paypal", reference=f"ref-{amount}"
            )
        )
    body = (await browser.get("/api/affiliate/payouts")).json()
    assert [(p["amount_cents"], p["method"], p["reference"]) for p in body] == [
        (2500, "paypal", "ref-2500"),
        (1000, "paypal", "ref-1000"),
    ]


async def test_owner_sees_each_affiliates_counts_commissions_and_customers(make_client, login):
    from db.auth.tables import User

    alice = await make_affiliate("alice")
    await make_affiliate("bob")
    plan = await make_plan()
    buyer, purchase = await _bought(alice, plan)
    await _commission(alice, purchase, 750, "PENDING_LOCK")
    await TrackingEvent.insert(TrackingEvent(affiliate=alice["id"]))
    from db.uow import atomic
    from server.domains.affiliates.actions import ledger

    async with atomic():  # money on alice's ledger: the list reads every account's sum
        await ledger.post(
            "test:owner-list",
            "commission",
            alice["id"],
            [
                ledger.Leg(ledger.LOCKED, alice["id"], 750),
                ledger.Leg(ledger.PLATFORM_COMMISSIONS, None, -750),
            ],
        )
    await User.insert(User(platform="weokto", email="boss@example.com", role="owner"))
    owner = await make_client()
    await login(owner, "boss@example.com")
    listed = (await owner.get("/api/owner/affiliates")).json()
    assert [a["slug"] for a in listed] == ["alice", "bob"]
    assert {k: listed[0][k] for k in ("clicks", "customers", "commissions", "risk_level")} == {
        "clicks": 1,
        "customers": 1,
        "commissions": 1,
        "risk_level": "NORMAL",
    }
    assert [(a["locked_cents"], a["available_cents"], a["debt_cents"]) for a in listed] == [
        (750, 0, 0),
        (0, 0, 0),
    ]
    detail = (await owner.get(f"/api/owner/affiliates/{alice['id']}")).json()
    assert detail["affiliate"]["slug"] == "alice"
    assert detail["commissions"][0]["customer_email"].endswith("@example.com")
    assert "***" not in detail["commissions"][0]["customer_email"]  # owners see who bought
    assert detail["customers"] == [
        {
            "user_id": buyer,
            "email": detail["customers"][0]["email"],
            "source": "link",
            "attributed_at": detail["customers"][0]["attributed_at"],
            "expires_at": detail["customers"][0]["expires_at"],
            "purchases": 1,
            "active": True,
        }
    ]
    assert (await owner.get("/api/owner/affiliates/999")).status_code == 404


async def test_owner_views_are_for_owners_of_the_platform(make_client, login):
    from db.auth.tables import User

    alice = await make_affiliate("alice")
    member = await make_client()
    await login(member, "member@example.com")
    assert (await member.get("/api/owner/affiliates")).status_code == 403
    await User.insert(User(platform="stam", email="stam-boss@example.com", role="owner"))
    stam = await make_client("stam")
    await login(stam, "stam-boss@example.com")
    assert (await stam.get("/api/owner/affiliates")).json() == []
    assert (await stam.get(f"/api/owner/affiliates/{alice['id']}")).status_code == 404


async def test_pages_render_for_their_roles(make_client, login):
    from db.auth.tables import User

    browser, _ = await _signed_in_affiliate(make_client, login)
    page = await browser.get("/affiliate")
    assert page.status_code == 200 and 'data-testid="stat-clicks"' in page.text
    assert "/static/js/affiliate.js" in page.text and "/static/js/referral.js" in page.text
    assert "Not for your role" in (await browser.get("/owner/affiliates")).text
    await User.insert(User(platform="weokto", email="boss2@example.com", role="owner"))
    owner = await make_client()
    await login(owner, "boss2@example.com")
    assert "/static/js/owner_affiliates.js" in (await owner.get("/owner/affiliates")).text
    anonymous = await make_client()
    assert (await anonymous.get("/affiliate")).status_code in (302, 303)
