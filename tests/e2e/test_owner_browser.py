"""An owner builds a product, a plan and a button on the seller page, and gets the snippet."""

from __future__ import annotations

from db.auth.tables import User
from db.billing.tables import Plan
from tests.e2e.conftest import SHOTS, sign_in_page


async def test_owner_creates_product_plan_and_button(
    browser, live_server, read_mail, stripe_emulator
):
    await User.insert(User(platform="weokto", email="seller-ui@example.com", role="owner"))
    context = await browser.new_context()
    page = await context.new_page()
    await sign_in_page(page, live_server.weokto_url, "seller-ui@example.com", read_mail)
    await page.goto(f"{live_server.weokto_url}/owner")
    await page.fill("#product-form input[name=name]", "Masterclass")
    await page.click("#product-form button")
    await page.get_by_test_id("products").get_by_text("Masterclass").wait_for()
    await page.fill("#plan-form input[name=name]", "Yearly")
    await page.fill("#plan-form input[name=price]", "290,50")
    await page.select_option("#plan-form select[name=interval]", "ANNUALLY")
    await page.click("#plan-form button")
    await page.get_by_test_id("plans").get_by_text("€290.50").wait_for()
    plan = await Plan.select().first()
    assert plan["price_cents"] == 29050 and plan["interval"] == "ANNUALLY"
    await page.fill("#button-form input[name=display_name]", "Join the Masterclass")
    await page.fill("#button-form input[name=success_url]", "https://example.com/ok")
    await page.fill("#button-form input[name=cancel_url]", "https://example.com/no")
    await page.click("#button-form button")
    snippet = page.locator(".snippet").first
    await snippet.wait_for()
    assert "/pay/" in await snippet.inner_text()
    await page.screenshot(path=str(SHOTS / "owner-catalog.png"), full_page=True)
    await context.close()
