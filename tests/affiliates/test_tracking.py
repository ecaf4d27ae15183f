"""Affiliate link tracking: clicks, the referral cookie, last-click and free-guild attribution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.affiliates.tables import AffiliateProfile
from db.tracking.tables import Attribution, PurchaseAttribution, TrackingEvent
from server.domains.tracking import cookie
from server.domains.tracking.actions import do_attribute_purchase
from server.domains.tracking.schemas import CheckoutReferral
from tests.factories import make_guild, make_user

DAY = timedelta(days=1)


async def make_affiliate(slug: str = "alice", age_days: int = 0, **user: Any) -> dict[str, Any]:
    """An affiliate user with their profile; `age_days` back-dates the profile."""
    row = await make_user(role="affiliate", **user)
    created = datetime.now(UTC) - timedelta(days=age_days)
    profile = (
        await AffiliateProfile.insert(
            AffiliateProfile(user=row["id"], slug=slug, created_at=created)
        ).returning(*AffiliateProfile.all_columns())
    )[0]
    return {**profile, "user_row": row}


async def make_purchase(user_id: int, plan_id: int, status: str = "ACTIVE", **extra: Any) -> int:
    from db.billing.tables import Plan, Purchase

    plan = await Plan.select().where(Plan.id == plan_id).first()
    rows = await Purchase.insert(
        Purchase(user=user_id, product=plan["product"], plan=plan_id, status=status, **extra)
    ).returning(Purchase.id)
    return rows[0]["id"]


async def make_plan(price_cents: int = 3000, interval: str = "MONTHLY", name: str = "Pro") -> int:
    from db.billing.tables import Plan, Product

    product = (await Product.insert(Product(platform="weokto", name=name)).returning(Product.id))[0]
    return (
        await Plan.insert(
            Plan(product=product["id"], name=name, price_cents=price_cents, interval=interval)
        ).returning(Plan.id)
    )[0]["id"]


def ref_cookie(res: Any) -> str | None:
    """The weokto_ref Set-Cookie header of a response, if any."""
    for header in res.headers.get_list("set-cookie"):
        if header.startswith(f"{cookie.COOKIE_NAME}="):
            return header
    return None


def updates(events: list[dict[str, Any]], user_id: int) -> list[str]:
    return [
        e["payload"]["reason"]
        for e in events
        if e["event"] == "affiliate_update" and e["room"] == f"user:{user_id}"
    ]


async def test_a_click_is_recorded_remembered_for_30_days_and_pushed(client, captured_events):
    aff = await make_affiliate()
    res = await client.get(
        "/api/affiliate/track",
        params={
            "ref": "alice",
            "landing": "/g/community-academy",
            "referrer": "https://news.example/",
        },
        headers={"user-agent": "TestBrowser/1.0"},
    )
    assert res.status_code == 200, res.text
    assert res.json()["tracked"] is True and res.json()["affiliate_slug"] == "alice"
    header = ref_cookie(res)
    assert header is not None and "HttpOnly" in header and "Max-Age=2592000" in header
    assert "SameSite=lax" in header and "Path=/" in header
    referral = cookie.decode(client.cookies[cookie.COOKIE_NAME])
    assert referral is not None and referral.affiliate_id == aff["id"]
    click = await TrackingEvent.select().first()
    assert click["affiliate"] == aff["id"] and click["ip"] == "127.0.0.1"
    assert click["user_agent"] == "TestBrowser/1.0" and click["referrer"] == "https://news.example/"
    assert click["landing_path"] == "/g/community-academy"
    event = next(e for e in captured_events if e["event"] == "affiliate_update")
    assert event == {
        "room": f"user:{aff['user']}",
        "event": "affiliate_update",
        "payload": {"affiliate_id": aff["id"], "reason": "click", "type": "affiliate_update"},
    }
    assert await Attribution.count() == 0  # anonymous: nobody to attribute yet


async def test_a_direct_hit_takes_the_landing_and_referrer_from_the_request(client):
    await make_affiliate()
    res = await client.get(
        "/api/affiliate/track?ref=ALICE", headers={"referer": "https://a.test/x"}
    )
    assert res.status_code == 200
    click = await TrackingEvent.select().first()
    assert (
        click["referrer"] == "https://a.test/x" and click["landing_path"] == "/api/affiliate/track"
    )


async def test_an_unknown_slug_is_404_without_a_cookie(client, captured_events):
    await make_affiliate()
    res = await client.get("/api/affiliate/track?ref=nobody")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "affiliate_not_found"
    assert ref_cookie(res) is None and cookie.COOKIE_NAME not in client.cookies
    assert await TrackingEvent.count() == 0 and captured_events == []
    assert (await client.get("/api/affiliate/track")).status_code == 400  # ref is required
    assert (await client.get("/api/affiliate/track?ref=" + "x" * 65)).status_code == 400


async def test_signing_in_after_the_click_claims_the_referral_once(
    make_client, login, captured_events
):
    aff = await make_affiliate()
    browser = await make_client()
    await browser.get("/api/affiliate/track?ref=alice")
    me = (await login(browser, "visitor@example.com"))["user"]
    page = await browser.get("/home")
    assert 'data-ref-pending="1"' in page.text  # the page asks for the claim
    res = await browser.post("/api/affiliate/claim")
    assert res.status_code == 200 and res.json() == {"attributed": True}
    assert "Max-Age=0" in (ref_cookie(res) or "")  # spent
    row = await Attribution.select().where(Attribution.customer == me["id"]).first()
    assert row["affiliate"] == aff["id"] and row["source"] == "link"
    assert row["expires_at"] - row["clicked_at"] == timedelta(days=30)
    assert updates(captured_events, aff["user"]) == ["click", "attribution"]
    again = await browser.post("/api/affiliate/claim")
    assert again.json() == {"attributed": False} and await Attribution.count() == 1
    assert "data-ref-pending" not in (await browser.get("/home")).text


async def test_claim_needs_a_session(client):
    assert (await client.post("/api/affiliate/claim")).status_code == 401


async def test_a_signed_in_click_attributes_at_once_and_the_last_click_wins(
    make_client, login, captured_events
):
    alice = await make_affiliate("alice")
    bob = await make_affiliate("bob")
    browser = await make_client()
    me = (await login(browser, "buyer@example.com"))["user"]
    await browser.get("/api/affiliate/track?ref=alice")
    row = await Attribution.select().where(Attribution.customer == me["id"]).first()
    assert row["affiliate"] == alice["id"]
    await browser.get("/api/affiliate/track?ref=bob")
    rows = await Attribution.select().where(Attribution.customer == me["id"])
    assert len(rows) == 1 and rows[0]["affiliate"] == bob["id"]
    # Alice lost a sign-up: her dashboard is told too.
    assert updates(captured_events, alice["user"]) == ["click", "attribution", "attribution"]
    assert updates(captured_events, bob["user"]) == ["click", "attribution"]


async def test_an_older_click_does_not_replace_a_newer_attribution(make_client, login):
    alice = await make_affiliate("alice")
    bob = await make_affiliate("bob")
    browser = await make_client()
    me = (await login(browser, "late@example.com"))["user"]
    await browser.get("/api/affiliate/track?ref=bob")
    old = cookie.Referral(
        affiliate_id=alice["id"], clicked_at=datetime.now(UTC).replace(microsecond=0) - DAY
    )
    browser.cookies.set(cookie.COOKIE_NAME, cookie.encode(old))
    assert (await browser.post("/api/affiliate/claim")).json() == {"attributed": False}
    row = await Attribution.select().where(Attribution.customer == me["id"]).first()
    assert row["affiliate"] == bob["id"]


async def test_forged_and_expired_cookies_attribute_nobody(make_client, login):
    alice = await make_affiliate("alice")
    browser = await make_client()
    await login(browser, "forger@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    stale = cookie.encode(cookie.Referral(alice["id"], now - timedelta(days=31)))
    forged = cookie.encode(cookie.Referral(alice["id"], now))[:-4] + "0000"
    for value in (stale, forged, "garbage", "1.2", f"{2**40}.1.x"):
        browser.cookies.set(cookie.COOKIE_NAME, value)
        res = await browser.post("/api/affiliate/claim")
        assert res.status_code == 200 and res.json() == {"attributed": False}, value
    assert await Attribution.count() == 0


async def test_an_affiliate_following_their_own_link_is_not_attributed(make_client, login):
    await make_affiliate("selfie", email="selfie@example.com")
    browser = await make_client()
    await login(browser, "selfie@example.com")
    assert (await browser.get("/api/affiliate/track?ref=selfie")).status_code == 200
    assert await TrackingEvent.count() == 1 and await Attribution.count() == 0


async def _attributed(customer_id: int) -> dict[str, Any]:
    return await Attribution.select().where(Attribution.customer == customer_id).first()


async def test_joining_a_free_guild_through_a_referral_makes_a_free_product_attribution(
    make_client, login, captured_events
):
    aff = await make_affiliate("alice")
    await make_guild(slug="free-club", tier="free")
    await make_guild(slug="paid-club", tier="premium")
    browser = await make_client()
    me = (await login(browser, "joiner@example.com"))["user"]
    await browser.get("/api/affiliate/track?ref=alice")
    assert (await browser.post("/api/guilds/paid-club/join")).status_code == 200
    assert (await _attributed(me["id"]))["source"] == "link"  # not a free product
    before = datetime.now(UTC)
    assert (await browser.post("/api/guilds/free-club/join")).status_code == 200
    row = await _attributed(me["id"])
    assert row["source"] == "free_product" and row["affiliate"] == aff["id"]
    after = datetime.now(UTC)
    assert before + timedelta(days=30) <= row["expires_at"] <= after + timedelta(days=30)
    assert updates(captured_events, aff["user"])[-1] == "attribution"


async def test_affiliates_older_than_90_days_get_60_days_on_free_products(make_client, login):
    await make_affiliate("veteran", age_days=91)
    await make_guild(slug="free-club", tier="free")
    browser = await make_client()
    me = (await login(browser, "joiner2@example.com"))["user"]
    await browser.get("/api/affiliate/track?ref=veteran")
    await browser.post("/api/guilds/free-club/join")
    row = await _attributed(me["id"])
    left = row["expires_at"] - datetime.now(UTC)
    assert row["source"] == "free_product" and timedelta(days=59) < left <= timedelta(days=60)


async def test_joining_without_a_referral_attributes_nobody(make_client, login):
    await make_affiliate("alice")
    await make_guild(slug="free-club", tier="free")
    browser = await make_client()
    await login(browser, "organic@example.com")
    assert (await browser.post("/api/guilds/free-club/join")).status_code == 200
    assert await Attribution.count() == 0


async def test_purchase_attribution_comes_from_checkout_metadata_once(captured_events):
    aff = await make_affiliate("alice")
    buyer = await make_user()
    purchase = await make_purchase(buyer["id"], await make_plan())

    def referral(metadata: dict[str, str]) -> CheckoutReferral | None:
        return CheckoutReferral.from_metadata(metadata)

    assert referral({}) is None
    assert referral({"affiliate_id": "abc"}) is None
    assert referral({"affiliate_id": str(2**31)}) is None
    assert referral({"affiliate_id": "7", "attribution_source": "forged"}) == CheckoutReferral(
        7, "link"
    )
    assert not await do_attribute_purchase(purchase, None)
    assert not await do_attribute_purchase(purchase, referral({"affiliate_id": "999999"}))
    meta = {"affiliate_id": str(aff["id"]), "attribution_source": "free_product"}
    assert await do_attribute_purchase(purchase, referral(meta))
    assert await do_attribute_purchase(purchase, referral({**meta, "attribution_source": "link"}))
    rows = await PurchaseAttribution.select()
    assert len(rows) == 1 and rows[0]["purchase"] == purchase
    assert rows[0]["affiliate"] == aff["id"] and rows[0]["source"] == "free_product"
    # Each sync of an attributed purchase may change active customers and MRR: a push each.
    assert updates(captured_events, aff["user"]) == ["attribution", "attribution"]


async def test_link_visits_are_rate_limited_per_address(make_client, monkeypatch):
    from server.domains.tracking import actions
    from server.ratelimit import Limit

    monkeypatch.setattr(actions, "TRACK_LIMIT", Limit("affiliate_track", max_hits=2, window_s=600))
    await make_affiliate()
    bot = await make_client(ip="10.0.0.9")
    assert [(await bot.get("/api/affiliate/track?ref=alice")).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    person = await make_client(ip="10.0.0.10")
    assert (await person.get("/api/affiliate/track?ref=alice")).status_code == 200
    assert await TrackingEvent.count() == 3
