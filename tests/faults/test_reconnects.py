"""A client that keeps dropping and coming back misses nothing: gap-free, in order, no duplicates.

Each cycle: the socket disconnects, 0 to 200 messages are sent meanwhile over the channels it
follows, it reconnects and catches up with since_seq (as the page does), while a few more
messages race the rejoin. The follower (tests/faults/followers.py) keeps messages by seq like
the browser; after every cycle it must hold exactly 1..N of each channel, each the message that
was acknowledged for that seq. 50 cycles at the CI scale, 1,000 under `make faults`.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import pytest
import socketio

from core.redis import backplane_channel
from realtime import emitter
from server.domains.chat import actions as chat_actions
from server.ratelimit import Limit
from tests.factories import as_user, make_channel, make_guild, make_member, make_user
from tests.faults.conftest import scaled
from tests.faults.followers import Follower, member_cookies, own_redis_server  # noqa: F401

CYCLES = scaled(50, 1000)
MAX_MISSED = 200
CHANNELS = 4
RACING = 5  # sent while the socket reconnects and rejoins
IN_FLIGHT = 16  # sends at once while the socket is away (spread over the channels)
# Socket joins are limited per person (120 a minute): this storm of reconnects is far faster
# than one person's, so the follower comes back as the next of these members each time. The
# catch-up protocol is per channel; who asks does not change it.
IDENTITIES = 24


@pytest.fixture
def sends_here(own_redis_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test sends through the same action as the socket handler, its events published on
    the Redis of the web process the client uses. The flood limit (5 per 5 s) would only
    stretch the run: it is not what is under test."""
    monkeypatch.setattr(chat_actions, "SEND_LIMIT", Limit("fault-send", 10**9, 5))
    url = own_redis_server["redis"].url
    manager = socketio.AsyncRedisManager(url, channel=backplane_channel(url), write_only=True)
    monkeypatch.setattr(emitter, "_manager", manager)
    monkeypatch.setattr(emitter, "_gate", asyncio.Semaphore(emitter.MAX_PUBLISHING))


async def test_a_client_reconnecting_a_thousand_times_sees_every_message_once_in_order(
    db, own_redis_server, live_server, sends_here, figures
):
    guild = await make_guild(slug=f"reconnects-{uuid.uuid4().hex[:6]}")
    channels = [(await make_channel(guild["id"], name=f"c{i}"))["id"] for i in range(CHANNELS)]
    author_row = await make_user(f"author-{uuid.uuid4().hex[:6]}@example.com")
    await make_member(guild["id"], author_row["id"])
    author = as_user(author_row)
    cookies = [cookie for _, cookie in await member_cookies(guild["id"], IDENTITIES, "rc")]
    rng = random.Random(1234)
    acked: dict[int, dict[int, str]] = {c: {} for c in channels}

    async def send(channel: int) -> None:
        cmid = uuid.uuid4().hex
        result = await chat_actions.check_send_message(author, channel, f"m {cmid}", cmid)
        acked[channel][result.message.seq] = cmid

    async def send_racing() -> None:
        for _ in range(rng.randint(0, RACING)):
            await send(rng.choice(channels))
            await asyncio.sleep(rng.random() * 0.02)

    def holds_all() -> bool:
        return all(follower.last[c] >= len(acked[c]) for c in channels)

    base = f"http://localhost:{own_redis_server['port']}"
    follower = Follower(base, cookies[0], live_server.weokto_url, channels)
    await follower.connect()
    started = time.monotonic()
    missed_total = 0
    for cycle in range(CYCLES):
        await follower.disconnect()
        follower.cookie = cookies[(cycle + 1) % IDENTITIES]
        missed = rng.randint(0, MAX_MISSED)
        missed_total += missed
        for start in range(0, missed, IN_FLIGHT):
            count = min(IN_FLIGHT, missed - start)
            await asyncio.gather(*(send(channels[i % CHANNELS]) for i in range(count)))
        await asyncio.gather(follower.connect(), send_racing())
        # Whatever raced the rejoin arrives live, or through the gap check's catch-up.
        deadline = time.monotonic() + 10
        while not holds_all() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await follower.settle()
        assert follower.errors == [], f"cycle {cycle}"
        for c in channels:
            assert follower.timeline(c) == list(range(1, len(acked[c]) + 1)), f"cycle {cycle}"
            assert all(follower.have[c][s]["client_msg_id"] == m for s, m in acked[c].items())
    elapsed = time.monotonic() - started
    await follower.disconnect()

    figures.record(
        cycles=CYCLES,
        messages=sum(len(a) for a in acked.values()),
        missed_while_away=missed_total,
        caught_up=follower.caught_messages,
        catch_up_calls=follower.catch_ups,
        delivered_live=len(follower.live),
        pushed_twice=follower.pushed_twice,
        live_out_of_order=follower.out_of_order,
        seconds=round(elapsed, 1),
        bound="gap-free, in order, no duplicates after every cycle",
    )
    assert follower.errors == []
    assert follower.connects == CYCLES + 1
    assert follower.pushed_twice == 0 and follower.out_of_order == 0
