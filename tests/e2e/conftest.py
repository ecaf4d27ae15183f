"""Browser fixtures: Debian's chromium driven by Playwright (no browser download)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(scope="module")
async def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        await browser.close()


async def sign_in_page(page, base: str, email: str, read_mail) -> None:
    """Sign in as a person does: type the email, read the code from the catcher, type it."""
    from tests.fixtures import code_of

    await page.goto(f"{base}/login")
    await page.fill("#email", email)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/verify?email=*")
    await page.fill("#otp", code_of(await read_mail(email)))
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/verify" not in url)
