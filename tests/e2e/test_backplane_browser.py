"""A page that stays connected through a Redis restart still shows what was sent meanwhile.

The web process runs on a Redis of its own; while Redis is down the page's socket stays open
(Engine.IO pings need no Redis) but the pushes of messages sent meanwhile are lost. Once the
server's listener is back it tells the page to resync, and the page rejoins the open channel
with since_seq, as after a reconnect: the missed messages appear, once and in order, with no
new connection and no further message to reveal the gap.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

from devtools.embedded import start_redis
from tests.factories import make_channel, make_guild
from tests.faults.followers import member_cookies, own_redis_server  # noqa: F401
from tests.realtime.clients import connect


async def _texts(page: Any) -> list[str]:
    items = page.locator("[data-testid=message] .content")
    return [t.strip() for t in await items.all_inner_texts()]


async def _wait_count(page: Any, n: int, timeout: float = 20000) -> None:
    await page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=message]').length >= n",
        arg=n,
        timeout=timeout,
    )


async def test_an_open_page_catches_up_after_a_redis_restart(
    browser, db, own_redis_server, live_server
):
    slug = f"relay-{uuid.uuid4().hex[:6]}"
    guild = await make_guild(slug=slug)
    channel = (await make_channel(guild["id"], name="general"))["id"]
    (_, writer), (_, reader) = await member_cookies(guild["id"], 2, "relay")
    base = f"http://localhost:{own_redis_server['port']}"

    context = await browser.new_context(viewport={"width": 390, "height": 800})
    name, _, token = reader.partition("=")
    await context.add_cookies([{"name": name, "value": token, "url": base}])
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(f"{base}/g/{slug}")
    await page.locator("[data-testid=channel-title]", has_text="general").wait_for()
    await page.locator("#live-status[data-state=live]").wait_for(state="attached", timeout=20000)
    await page.locator("[data-testid=timeline-top][data-state=start]").wait_for()

    author = await connect(base, writer, origin=base)

    async def send(text: str) -> None:
        ack = await author.call(
            "send_message",
            {"channel_id": channel, "content": text, "client_msg_id": uuid.uuid4().hex},
            timeout=30,
        )
        assert ack["ok"], ack

    await send("before the restart")
    await _wait_count(page, 1)

    redis = own_redis_server["redis"]
    redis.process.send_signal(signal.SIGKILL)
    redis.process.wait()
    for i in range(1, 4):
        await send(f"sent while Redis was down {i}")  # stored and acknowledged, push lost
    await asyncio.sleep(1.0)
    assert await _texts(page) == ["before the restart"]
    own_redis_server["redis"] = await asyncio.to_thread(
        start_redis, own_redis_server["dir"], persist=False, port=redis.port
    )

    await _wait_count(page, 4)
    assert await _texts(page) == [
        "before the restart",
        *(f"sent while Redis was down {i}" for i in range(1, 4)),
    ]
    seqs = await page.locator("[data-testid=message]").evaluate_all(
        "els => els.map(e => Number(e.dataset.seq))"
    )
    assert seqs == [1, 2, 3, 4]
    # The same socket throughout: the catch-up came from the resync, not from a reconnect.
    assert len(sockets) == 1
    assert await page.locator("#live-status").get_attribute("data-state") == "live"
    await author.disconnect()
    await context.close()
