"""An affiliate watches their dashboard move live while a referred visitor, in another browser,
clicks their link, signs up and buys through the emulator's checkout; then when the clock passes
the unlock date, and when the owner refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from db.affiliates.tables import AffiliateProfile, Commission, RiskChange
from db.auth.tables import User
from db.billing.tables import PaymentButton, Plan, Product, Purchase, RefundRequest
from server.domains.affiliates.schemas import AffiliateProfileRow, profile_row
from server.domains.tracking import queries
from tests.e2e.conftest import SHOTS, eur, sign_in_page
from tests.factories import as_user, make_channel, make_guild, make_user
from tests.fixtures import until

STATS = ("clicks", "signups", "active", "mrr", "locked", "available", "paid", "debt")
KEYS = {
    "clicks": "clicks",
    "signups": "signups",
    "active": "active_customers",
    "mrr": "mrr_cents",
    "locked": "locked_cents",
    "available": "available_cents",
    "paid": "paid_cents",
    "debt": "debt_cents",
}


def shown(stats: Any) -> dict[str, str]:
    """What the dashboard must display for these stats (same formatting as affiliate.js)."""
    out = {}
    for name, key in KEYS.items():
        value = getattr(stats, key)
        out[name] = eur(value) if key.endswith("_cents") else str(value)
    return out


async def _on_page(page: Any) -> dict[str, str]:
    return await page.evaluate(
        "(names) => Object.fromEntries(names.map((k) => "
        "[k, document.querySelector(`[data-testid=stat-${k}]`)?.textContent]))",
        list(STATS),
    )


async def expect_live(
    page: Any, profile: AffiliateProfileRow, shot: str, **expected: str
) -> dict[str, str]:
    """Wait until the database has the `expected` figures and every counter on the (never
    reloaded) page shows the database's figures.

    The figures are re-read while waiting: webhooks of the same change may still be landing.
    """

    async def matches() -> dict[str, str] | None:
        want = shown(await queries.compute_stats(profile))
        if any(want[k] != v for k, v in expected.items()):
            return None
        return want if await _on_page(page) == want else None

    try:
        want = await until(matches, timeout=30)
    except AssertionError:
        want = shown(await queries.compute_stats(profile))
        raise AssertionError(
            f"{page.url} shows {await _on_page(page)}, database says {want}; "
            f"navigations: {getattr(page, 'visited', [])}"
        ) from None
    assert await page.evaluate("window.__sameDocument") is True  # updated live, not reloaded
    await page.screenshot(path=str(SHOTS / shot), full_page=True)
    return want


async def _shop() -> str:
    guild = await make_guild(slug="referral-club", tier="premium")
    await make_channel(guild["id"], name="vip", requires_paid=True)
    product = (
        await Product.insert(
            Product(platform="weokto", name="Referral Club", guild=guild["id"])
        ).returning(Product.id)
    )[0]["id"]
    plan = (
        await Plan.insert(
            Plan(product=product, name="Monthly", price_cents=5000, interval="MONTHLY")
        ).returning(Plan.id)
    )[0]["id"]
    await PaymentButton.insert(
        PaymentButton(
            button_key="referral-club",
            product=product,
            plan=plan,
            display_name="Join Referral Club",
            cta_text="Join for 50 EUR",
            success_url="https://example.com/ok",
            cancel_url="https://example.com/no",
        )
    )
    return "referral-club"


async def _affiliate(email: str) -> AffiliateProfileRow:
    user = await make_user(email=email, role="affiliate")
    rows = await AffiliateProfile.insert(AffiliateProfile(user=user["id"], slug="alice")).returning(
        *AffiliateProfile.all_columns()
    )
    return profile_row(rows[0])


async def _pay_in_emulator(page: Any, base: str, key: str, email: str, emulator: str) -> None:
    await page.goto(f"{base}/pay/{key}")
    await page.get_by_test_id("pay-button").click()
    await page.wait_for_url(f"{emulator}/checkout/**")
    if not await page.input_value("#email"):
        await page.fill("#email", email)
    await page.fill("#card", "4242 4242 4242 4242")
    await page.click("#pay")
    await page.wait_for_url("**/checkout/success?session_id=*")


async def _commissions(profile_id: int, n: int) -> list[dict[str, Any]] | None:
    rows = (
        await Commission.select().where(Commission.affiliate == profile_id).order_by(Commission.id)
    )
    return rows if len(rows) >= n else None


async def test_affiliate_counters_move_live_while_a_referred_visitor_buys(
    browser, live_server, read_mail, stripe_emulator
):
    from server.domains.affiliates.actions.maturation import do_mature_due
    from server.domains.billing.actions.refunds import check_request_refund

    base = live_server.weokto_url
    key = await _shop()
    profile = await _affiliate("alice-ui@example.com")
    await User.insert(User(platform="weokto", email="boss-ui@example.com", role="owner"))

    affiliate_ctx = await browser.new_context()
    dash = await affiliate_ctx.new_page()
    dash.visited = []
    dash.on("framenavigated", lambda frame: dash.visited.append(frame.url))
    await sign_in_page(dash, base, "alice-ui@example.com", read_mail)
    await dash.goto(f"{base}/affiliate")
    await dash.wait_for_selector("#affiliate[data-state=ready]")
    await dash.evaluate("window.__sameDocument = true")
    assert (await dash.get_by_test_id("ref-link").input_value()).endswith("/?ref=alice")
    await expect_live(dash, profile, "affiliate-0-empty.png")

    # Another browser: a visitor lands through the link (click), then signs up (attribution).
    visitor_ctx = await browser.new_context()
    visitor = await visitor_ctx.new_page()
    await visitor.goto(f"{base}/?ref=alice")
    await visitor.wait_for_function("!location.search.includes('ref=')")  # tracked, URL cleaned
    await expect_live(dash, profile, "affiliate-1-click.png", clicks="1")
    await sign_in_page(visitor, base, "visitor-ui@example.com", read_mail)
    await expect_live(dash, profile, "affiliate-2-signup.png", signups="1")

    # The visitor buys through the emulator's hosted checkout: a locked commission appears.
    await _pay_in_emulator(visitor, base, key, "visitor-ui@example.com", stripe_emulator)
    first = (await until(lambda: _commissions(profile.id, 1), timeout=60))[0]
    bought = await expect_live(dash, profile, "affiliate-3-purchase.png", active="1", mrr="€50.00")
    assert bought["locked"] == eur(first["amount_cents"])
    assert bought["available"] == "€0.00"
    assert (await dash.get_by_test_id("unlock-countdown").inner_text()).startswith("next unlock in")
    await dash.get_by_test_id("commission").first.wait_for()

    # The clock moves past the unlock date: the emulator renews (a second commission) and the
    # maturation job, run at that time, unlocks what is due.
    async with httpx.AsyncClient(base_url=stripe_emulator) as emu:
        assert (await emu.post("/_emulator/advance", json={"days": 46})).status_code == 200
    await until(lambda: _commissions(profile.id, 2), timeout=60)
    await expect_live(dash, profile, "affiliate-4-renewal.png")
    await do_mature_due(now=datetime.now(UTC) + timedelta(days=46))
    matured = await expect_live(dash, profile, "affiliate-5-unlocked.png")
    assert matured["available"] != "€0.00"

    # The visitor asks for a refund of the latest payment; the owner approves it on /owner.
    buyer = await User.select().where(User.email == "visitor-ui@example.com").first()
    purchase = await Purchase.select().where(Purchase.user == buyer["id"]).first()
    await check_request_refund(as_user(buyer), purchase["id"], "Changed my mind")
    owner_ctx = await browser.new_context()
    owner = await owner_ctx.new_page()
    await sign_in_page(owner, base, "boss-ui@example.com", read_mail)
    await owner.goto(f"{base}/owner")
    await owner.locator("#refunds li").get_by_role("button", name="Approve").click()
    await until(lambda: RefundRequest.select().where(RefundRequest.status == "approved").first())

    async def clawed_back() -> Any:
        rows = await Commission.select().where(
            (Commission.affiliate == profile.id) & (Commission.clawed_back_cents > 0)
        )
        p = await Purchase.select().where(Purchase.id == purchase["id"]).first()
        return rows if rows and p["status"] == "EXPIRED" else None

    await until(clawed_back, timeout=60)
    refunded = await expect_live(dash, profile, "affiliate-6-refunded.png", active="0", mrr="€0.00")
    assert refunded != matured

    # The owner's affiliates page: balances, commissions, customers; the risk level is edited.
    await owner.goto(f"{base}/owner/affiliates")
    row = owner.get_by_test_id("affiliate-row").filter(has_text="alice-ui@example.com")
    await row.click()
    detail = owner.get_by_test_id("affiliate-detail")
    await detail.get_by_text("visitor-ui@example.com").first.wait_for()
    assert await owner.get_by_test_id("detail-commissions").locator("tr").count() == 2
    await owner.get_by_test_id("risk-level").select_option("AT_RISK")
    await owner.get_by_test_id("risk-notes").fill("Refund right after a renewal")
    await owner.get_by_role("button", name="Save risk level").click()
    await row.get_by_test_id("risk").filter(has_text="At risk").wait_for()
    await owner.get_by_test_id("risk-history").get_by_text("Normal → At risk").wait_for()
    saved = await AffiliateProfile.select().where(AffiliateProfile.id == profile.id).first()
    assert (
        saved["risk_level"] == "AT_RISK" and saved["risk_notes"] == "Refund right after a renewal"
    )
    change = await RiskChange.select().where(RiskChange.affiliate == profile.id).first()
    assert (change["old_level"], change["new_level"]) == ("NORMAL", "AT_RISK")  # audited
    await owner.screenshot(path=str(SHOTS / "owner-affiliates.png"), full_page=True)
    for ctx in (owner_ctx, visitor_ctx, affiliate_ctx):
        await ctx.close()
