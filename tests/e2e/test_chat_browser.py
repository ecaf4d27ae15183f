"""Two people chat in one guild in headless Chromium: live delivery, gap-free catch-up, moderation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import SHOTS, sign_in_page
from tests.factories import make_channel, make_guild, make_member, make_user

INPUT = "[data-testid=composer-input]"


async def no_pending(page) -> None:
    """Every send of this page has been acknowledged (several may be pending at once)."""
    await page.wait_for_function(
        "document.querySelectorAll('[data-testid=pending-message]').length === 0", timeout=20000
    )


@pytest.fixture
async def room(db: Any) -> dict[str, Any]:
    """Guild `makers` with #general, a moderator (Mia) and a member (Ana)."""
    guild = await make_guild(platform="weokto", slug="makers")
    channel = await make_channel(guild["id"], name="general")
    mod = await make_user("mia@example.com", platform="weokto", display_name="Mia")
    ana = await make_user("ana@example.com", platform="weokto", display_name="Ana")
    await make_member(guild["id"], mod["id"], role="moderator")
    await make_member(guild["id"], ana["id"], role="member")
    return {"guild": guild, "channel": channel, "mod": mod, "ana": ana}


async def open_guild(browser: Any, live_server: Any, read_mail: Any, email: str) -> tuple[Any, Any]:
    """Sign in the way a person does, then open /g/makers on #general, connected."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await sign_in_page(page, live_server.weokto_url, email, read_mail)
    await page.goto(f"{live_server.weokto_url}/g/makers")
    await page.locator("[data-testid=channel-title]", has_text="general").wait_for()
    await wait_live(page)
    await page.locator("[data-testid=timeline-top][data-state=start]").wait_for()
    return context, page


async def wait_live(page: Any, live: bool = True) -> None:
    selector = "[data-state=live]" if live else ":not([data-state=live])"  # offline or reconnecting
    await page.locator(f"#live-status{selector}").wait_for(state="attached", timeout=20000)


async def send(page: Any, text: str) -> None:
    await page.fill(INPUT, text)
    await page.press(INPUT, "Enter")


async def texts(page: Any) -> list[str]:
    return [
        t.strip() for t in await page.locator("[data-testid=message] .content").all_inner_texts()
    ]


async def seqs(page: Any) -> list[int]:
    items = page.locator("[data-testid=message]")
    return [int(s) for s in await items.evaluate_all("els => els.map(e => e.dataset.seq)")]


async def wait_count(page: Any, n: int, timeout: float = 15000) -> None:
    await page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=message]').length >= n",
        arg=n,
        timeout=timeout,
    )


def shot(page: Any, name: str) -> Any:
    SHOTS.mkdir(exist_ok=True)
    return page.screenshot(path=str(SHOTS / f"chat-{name}.png"))


async def test_a_message_appears_live_at_the_other_member(browser, live_server, read_mail, room):
    mod_ctx, mia = await open_guild(browser, live_server, read_mail, "mia@example.com")
    ana_ctx, ana = await open_guild(browser, live_server, read_mail, "ana@example.com")
    await send(mia, "Hello **Ana**, welcome!")
    await wait_count(ana, 1)
    message = ana.locator("[data-testid=message]").first
    assert await message.locator("[data-testid=author]").inner_text() == "Mia"
    # The server's sanitized Markdown is rendered as HTML.
    assert await message.locator(".content strong").inner_text() == "Ana"
    # The sender's pending copy was replaced by the acked message, shown once.
    await no_pending(mia)
    assert await texts(mia) == ["Hello Ana, welcome!"]
    await send(ana, "Thanks Mia")
    await wait_count(mia, 2)
    assert await texts(mia) == await texts(ana) == ["Hello Ana, welcome!", "Thanks Mia"]
    await shot(ana, "live")
    await mod_ctx.close()
    await ana_ctx.close()


async def test_offline_member_catches_up_every_message_once_in_order(
    browser, live_server, read_mail, room
):
    mod_ctx, mia = await open_guild(browser, live_server, read_mail, "mia@example.com")
    ana_ctx, ana = await open_guild(browser, live_server, read_mail, "ana@example.com")
    await send(mia, "before the outage")
    await wait_count(ana, 1)

    await ana_ctx.set_offline(True)
    # Emulated offline blocks new connections but leaves an open WebSocket alone; the page
    # closes its socket on the window's `offline` event, which emulation fires.
    await wait_live(ana, live=False)
    for i in range(1, 4):
        await send(mia, f"missed {i}")
    await no_pending(mia)
    # Ana writes while offline: pending now, delivered with its client_msg_id on reconnect.
    await send(ana, "written offline")
    await ana.locator("[data-testid=pending-message]").first.wait_for()
    assert await texts(ana) == ["before the outage"]

    await ana_ctx.set_offline(False)
    await wait_live(ana)
    await wait_count(ana, 5)
    await no_pending(ana)
    expected = ["before the outage", "missed 1", "missed 2", "missed 3", "written offline"]
    assert await texts(ana) == expected
    assert await seqs(ana) == [1, 2, 3, 4, 5]
    await wait_count(mia, 5)
    await mia.wait_for_timeout(500)  # a duplicate, if any, would arrive by now
    assert await texts(mia) == expected
    assert await seqs(mia) == [1, 2, 3, 4, 5]
    await shot(ana, "caught-up")
    await mod_ctx.close()
    await ana_ctx.close()


async def test_a_timed_out_member_cannot_send(browser, live_server, read_mail, room):
    mod_ctx, mia = await open_guild(browser, live_server, read_mail, "mia@example.com")
    ana_ctx, ana = await open_guild(browser, live_server, read_mail, "ana@example.com")
    await mia.locator("[data-testid=member]", has_text="Ana").click()
    dialog = mia.get_by_test_id("member-dialog")
    await dialog.get_by_test_id("timeout-duration").select_option("600")
    await dialog.get_by_test_id("mod-reason").fill("cool down")
    await dialog.get_by_test_id("btn-timeout").click()
    await dialog.wait_for(state="detached")

    notice = ana.get_by_test_id("composer-notice")
    await notice.wait_for(state="visible")
    assert "timed out until" in (await notice.inner_text()).lower()
    assert await ana.locator(INPUT).is_disabled()
    await (
        mia.locator("[data-testid=member]", has_text="Ana")
        .get_by_test_id("timed-out-mark")
        .wait_for()
    )
    await shot(ana, "timed-out")

    # Even a stale page that still tries is refused, and says so: reload keeps the state.
    await ana.reload()
    await ana.get_by_test_id("composer-notice").wait_for(state="visible")
    assert "timed out until" in (await ana.get_by_test_id("composer-notice").inner_text()).lower()
    assert await ana.locator(INPUT).is_disabled()
    await mod_ctx.close()
    await ana_ctx.close()


async def test_slow_mode_refusal_is_shown_on_the_message(browser, live_server, read_mail, room):
    mod_ctx, mia = await open_guild(browser, live_server, read_mail, "mia@example.com")
    ana_ctx, ana = await open_guild(browser, live_server, read_mail, "ana@example.com")
    await mia.get_by_test_id("btn-slow-mode").click()
    await mia.get_by_test_id("slow-mode-select").select_option("60")
    await mia.get_by_test_id("btn-save-slow").click()
    await ana.get_by_test_id("slow-badge").wait_for(state="visible")
    await send(ana, "first")
    await wait_count(ana, 1)
    await send(ana, "second")
    error = ana.get_by_test_id("send-error")
    await error.wait_for()
    assert "slow mode" in (await error.inner_text()).lower()
    assert "slow mode" in (await ana.get_by_test_id("composer-notice").inner_text()).lower()
    await shot(ana, "slow-mode")
    await mod_ctx.close()
    await ana_ctx.close()
