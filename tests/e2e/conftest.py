"""Browser fixtures: Debian's chromium driven by Playwright (no browser download)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        # The platform speaks French unless the browser asks for English: these journeys read
        # English labels, so their contexts send Accept-Language: en-US unless a test says
        # otherwise (test_i18n_browser.py passes locale="fr-FR").
        new_context = browser.new_context

        async def english_by_default(**options: Any) -> Any:
            options.setdefault("locale", "en-US")
            return await new_context(**options)

        browser.new_context = english_by_default  # type: ignore[method-assign]
        yield browser
        await browser.close()


def eur(cents: int) -> str:
    """An EUR amount as an en-US page shows it (Intl / Babel currency format)."""
    return f"€{cents / 100:,.2f}"


async def sign_in_page(page: Any, base: str, email: str, read_mail: Any) -> None:
    """Sign in as a person does: type the email, read the code from the catcher, type it."""
    from tests.fixtures import code_of

    await page.goto(f"{base}/login")
    await page.fill("#email", email)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/verify?email=*")
    await page.fill("#otp", code_of(await read_mail(email)))
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/verify" not in url)
