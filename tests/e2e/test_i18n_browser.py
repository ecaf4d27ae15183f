"""A French-speaking member chats in French, switches to English in the header, and it sticks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import SHOTS, sign_in_page
from tests.factories import make_channel, make_guild, make_member, make_user

INPUT = "[data-testid=composer-input]"


@pytest.fixture
async def salon(db: Any) -> dict[str, Any]:
    """Guild `atelier` with #general and one member, Léa."""
    guild = await make_guild(platform="weokto", slug="atelier", name="Atelier")
    channel = await make_channel(guild["id"], name="general")
    lea = await make_user("lea@example.com", platform="weokto", display_name="Léa")
    await make_member(guild["id"], lea["id"], role="member")
    return {"guild": guild, "channel": channel, "lea": lea}


async def html_lang(page: Any) -> str:
    return str(await page.evaluate("document.documentElement.lang"))


async def no_overflow(page: Any, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide at {width}px"


async def open_guild(page: Any, base: str) -> None:
    await page.goto(f"{base}/g/atelier")
    await page.locator("[data-testid=channel-title]", has_text="general").wait_for()
    await page.locator("#live-status[data-state=live]").wait_for(timeout=20000)
    await page.locator("[data-testid=timeline-top][data-state=start]").wait_for()


async def send(page: Any, text: str) -> None:
    await page.fill(INPUT, text)
    await page.press(INPUT, "Enter")
    await page.locator("[data-testid=message] .content", has_text=text).wait_for(timeout=15000)
    await page.wait_for_function(
        "document.querySelectorAll('[data-testid=pending-message]').length === 0", timeout=20000
    )


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
    ids=["desktop", "phone"],
)
async def test_chat_in_french_then_switch_to_english(
    browser: Any, live_server: Any, read_mail: Any, salon: dict[str, Any], viewport: dict[str, int]
) -> None:
    base = live_server.weokto_url
    context = await browser.new_context(locale="fr-FR", viewport=viewport)
    page = await context.new_page()
    phone = viewport["width"] < 600

    # Signing in: French from the first page (Accept-Language fr-FR, and the platform's default).
    await page.goto(f"{base}/login")
    assert await html_lang(page) == "fr"
    assert "Se connecter" in await page.locator("h1").inner_text()
    await sign_in_page(page, base, "lea@example.com", read_mail)

    # Chatting in French: labels from the page catalog and from the JS catalog.
    await open_guild(page, base)
    assert await html_lang(page) == "fr"
    assert await page.get_by_test_id("send").inner_text() == "Envoyer"
    assert await page.get_by_test_id("composer-input").get_attribute("placeholder") == (
        "Écrire dans #general"
    )
    assert await page.locator("#live-status").inner_text() == "en direct"
    assert await page.get_by_test_id("timeline-top").inner_text() == (
        "C’est le début de la conversation."
    )
    await send(page, "Bonjour à tous")
    assert await page.locator("#logout").inner_text() == "Se déconnecter"
    await no_overflow(page, viewport["width"])
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"i18n-fr-guild-{viewport['width']}.png"))

    # The switch, by keyboard: focus the English button, press Enter; the page reloads in English.
    fr_button, en_button = page.get_by_test_id("lang-fr"), page.get_by_test_id("lang-en")
    assert await fr_button.get_attribute("aria-pressed") == "true"
    assert await en_button.get_attribute("aria-pressed") == "false"
    assert await page.get_by_test_id("lang-switch").get_attribute("aria-label") == "Langue"
    await en_button.focus()
    assert await page.evaluate("document.activeElement.dataset.locale") == "en"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.locator("[data-testid=channel-title]", has_text="general").wait_for()
    assert await html_lang(page) == "en"
    assert await page.get_by_test_id("send").inner_text() == "Send"
    assert await page.locator("#logout").inner_text() == "Sign out"
    assert await page.get_by_test_id("lang-en").get_attribute("aria-pressed") == "true"
    await page.locator("[data-testid=message] .content", has_text="Bonjour à tous").wait_for()
    await no_overflow(page, viewport["width"])

    # It sticks: a reload, another page, and a fresh tab of the same browser profile.
    await page.reload()
    assert await html_lang(page) == "en"
    await page.goto(f"{base}/home")
    assert await html_lang(page) == "en"
    assert await page.get_by_test_id("home-title").inner_text() == "Welcome to WEOKTO"
    other = await context.new_page()
    await other.goto(f"{base}/dms")
    assert await html_lang(other) == "en"
    assert await other.get_by_test_id("dm-title").inner_text() == "Pick a conversation"
    await no_overflow(other, viewport["width"])

    # And back to French with Space this time.
    await page.get_by_test_id("lang-fr").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Space")
    assert await html_lang(page) == "fr"
    assert await page.get_by_test_id("home-title").inner_text() == "Bienvenue sur WEOKTO"
    if phone:
        await no_overflow(page, viewport["width"])
    await context.close()


async def test_the_choice_is_saved_on_the_account(
    browser: Any, live_server: Any, read_mail: Any, salon: dict[str, Any]
) -> None:
    """A signed-in choice follows the person to another browser that asks for French."""
    base = live_server.weokto_url
    first = await browser.new_context(locale="fr-FR")
    page = await first.new_page()
    await sign_in_page(page, base, "lea@example.com", read_mail)
    await page.goto(f"{base}/home")
    async with page.expect_navigation():
        await page.get_by_test_id("lang-en").click()
    assert await html_lang(page) == "en"
    await first.close()

    second = await browser.new_context(locale="fr-FR")
    page = await second.new_page()
    await page.goto(f"{base}/login")
    assert await html_lang(page) == "fr"  # not signed in yet: the browser's language
    await sign_in_page(page, base, "lea@example.com", read_mail)
    await page.goto(f"{base}/home")
    assert await html_lang(page) == "en"
    await second.close()
