"""A person signs in on each platform in headless Chromium, reading the code from the catcher."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SHOTS
from tests.fixtures import code_of


@pytest.mark.parametrize(
    ("platform", "landing", "title_id"),
    [
        ("weokto", "/choose-guild", "choose-guild-title"),
        ("stam", "/home", "home-title"),
    ],
)
async def test_sign_in_with_the_emailed_code(
    browser, live_server, read_mail, platform, landing, title_id
):
    base = live_server.weokto_url if platform == "weokto" else live_server.stam_url
    email = f"browser-{platform}@example.com"
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/")
    assert (await page.get_by_test_id("brand-name").inner_text()) == platform.upper()
    await page.click("text=Sign in with your email")
    await page.fill("#email", email)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/verify?email=*")
    await page.fill("#otp", "12")
    await page.click("button[type=submit]")
    assert "6 digits" in await page.locator("#form-error").inner_text()
    await page.fill("#otp", code_of(await read_mail(email)))
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{landing}")
    await page.get_by_test_id(title_id).wait_for()
    # The Celery worker's push arrives over Socket.IO once the page has said hello.
    welcome = page.get_by_test_id("welcome")
    await welcome.wait_for(state="visible", timeout=15000)
    assert "welcome" in (await welcome.inner_text()).lower()
    assert await page.locator("#live-status").get_attribute("data-state") == "live"
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"signed-in-{platform}.png"), full_page=True)
    await page.click("#logout")
    await page.wait_for_url("**/login")
    await context.close()


async def test_wrong_code_shows_a_clear_error(browser, live_server, read_mail):
    context = await browser.new_context()
    page = await context.new_page()
    email = "wrong-code@example.com"
    await page.goto(f"{live_server.weokto_url}/login")
    await page.fill("#email", email)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/verify?email=*")
    code = code_of(await read_mail(email))
    await page.fill("#otp", f"{(int(code) + 1) % 1_000_000:06d}")
    await page.click("button[type=submit]")
    error = page.locator("#form-error")
    await error.wait_for(state="visible")
    assert "not valid" in await error.inner_text()
    await context.close()
