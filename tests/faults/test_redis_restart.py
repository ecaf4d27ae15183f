"""A Redis restart loses nothing acknowledged: sends keep working, pushes resume, gaps fill.

The web process under test runs on a Redis of its own, killed while messages flow: its
backplane listener must be back within a second of Redis answering, live pushes within two,
and the sockets that stayed open are told to resync and catch up on what Redis did not carry.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from core.redis import BACKPLANE_CHANNEL
from db.auth.tables import User
from devtools.embedded import start_redis
from tests.factories import make_channel, make_guild, make_member
from tests.faults.conftest import scaled
from tests.faults.followers import Follower, member_cookies, own_redis_server  # noqa: F401
from tests.realtime.clients import Inbox, connect, sign_in


async def test_messages_sent_while_redis_is_down_are_caught_up(
    own_redis_server, live_server, read_mail
):
    guild = await make_guild(slug=f"fault-{uuid.uuid4().hex[:6]}")
    channel = await make_channel(guild["id"])
    cid = channel["id"]
    # Sign in through the main server (mail goes through its worker); the cookie is valid on
    # every process of the platform.
    cookies = []
    for email in ("fa@example.com", "fb@example.com"):
        cookies.append(await sign_in(live_server.weokto_url, email, read_mail))
        user = await User.select().where(User.email == email).first()
        await make_member(guild["id"], user["id"])
    base = f"http://localhost:{own_redis_server['port']}"
    a = await connect(base, cookies[0], origin=live_server.weokto_url)
    b = await connect(base, cookies[1], origin=live_server.weokto_url)
    inbox = Inbox(b, "new_message")
    await a.call("join_channel", {"channel_id": cid}, timeout=10)
    await b.call("join_channel", {"channel_id": cid}, timeout=10)

    async def send(text: str) -> dict:
        ack = await a.call(
            "send_message",
            {"channel_id": cid, "content": text, "client_msg_id": uuid.uuid4().hex},
            timeout=10,
        )
        assert ack["ok"], ack
        return ack["data"]["message"]

    assert (await send("before"))["seq"] == 1
    await inbox.wait(lambda i: len(i.of("new_message")) == 1)

    own_redis_server["redis"].stop()
    during = [await send(f"during {n}") for n in range(3)]  # acked: they are in PostgreSQL
    assert [m["seq"] for m in during] == [2, 3, 4]
    own_redis_server["redis"] = start_redis(
        own_redis_server["dir"], persist=False, port=own_redis_server["redis"].port
    )

    # Pushes resume once the server's Redis listener reconnects (it tries every 0.25 s).
    for attempt in range(30):
        await send(f"after {attempt}")
        try:
            await inbox.wait(
                lambda i: any(m["message"]["seq"] > 4 for m in i.of("new_message")), timeout=1.0
            )
            break
        except TimeoutError:
            continue
    else:
        pytest.fail("pushes did not resume after the Redis restart")
    seen = {m["message"]["seq"] for m in inbox.of("new_message")}
    assert not {2, 3, 4} & seen  # those pushes were lost with Redis ...
    # ... and the client sees the gap and catches up from its last contiguous seq.
    ack = await b.call("join_channel", {"channel_id": cid, "since_seq": 1}, timeout=10)
    caught = [m["seq"] for m in ack["data"]["messages"]]
    assert caught == list(range(2, ack["data"]["last_seq"] + 1))
    assert sorted(seen | set(caught) | {1}) == list(range(1, ack["data"]["last_seq"] + 1))
    await a.disconnect()
    await b.disconnect()


RATE = 100  # messages per second, over all channels
CHANNELS = 4
# The chat limit allows 5 sends per 5 s per member and channel: 32 members over 4 channels
# send each (member, channel) pair one message every 1.28 s.
SENDERS = 32
FOLLOWERS = 4
OUTAGE_S = scaled(3.0, 10.0)
BEFORE_S = scaled(2.0, 5.0)
AFTER_S = scaled(3.0, 5.0)


class Flow:
    """RATE sends per second spread over members and channels, each acknowledged or refused;
    a refusal by the rate limit is resent after retry_after with the same client_msg_id, as
    the browser's outbox does."""

    def __init__(self, senders: list[Any], channels: list[int]) -> None:
        self.senders, self.channels = senders, channels
        self.sent = 0
        self.acked: dict[int, dict[int, str]] = {c: {} for c in channels}
        self.refused: Counter[str] = Counter()
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            delay = started + self.sent / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            k = self.sent
            sender = self.senders[k % SENDERS]
            cid = self.channels[(k // SENDERS) % CHANNELS]
            self.tasks.append(asyncio.ensure_future(self.send(sender, cid, k)))
            self.sent += 1

    async def send(self, sender: Any, cid: int, k: int) -> None:
        cmid = uuid.uuid4().hex
        for _attempt in range(4):
            try:
                ack = await sender.call(
                    "send_message",
                    {"channel_id": cid, "content": f"m{k}", "client_msg_id": cmid},
                    timeout=60,
                )
            except Exception as exc:  # a lost ack: reported, never counted as acknowledged
                self.refused[type(exc).__name__] += 1
                return
            if ack["ok"]:
                self.acked[cid][ack["data"]["message"]["seq"]] = cmid
                return
            code = ack["error"]["code"]
            if code != "rate_limited":
                self.refused[code] += 1
                return
            await asyncio.sleep(ack["error"]["details"]["retry_after"])
        self.refused["rate_limited"] += 1


async def _watch_resubscribe(port: int, since: float) -> tuple[float, float]:
    """When the restarted Redis first answers, and when a listener is subscribed again."""
    client = aioredis.Redis(
        port=port, socket_connect_timeout=0.2, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    answered = None
    try:
        while time.monotonic() - since < 60:
            try:
                subscribed = (await client.pubsub_numsub(BACKPLANE_CHANNEL))[0][1]
            except (OSError, RedisError):
                await asyncio.sleep(0.01)
                continue
            answered = answered or time.monotonic()
            if subscribed:
                return answered, time.monotonic()
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()
    raise AssertionError("the backplane listener never subscribed again")


async def _metrics(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        return (await http.get("/metrics")).text


async def _backplane_check(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        res = await http.get("/readyz")
    check: dict[str, Any] = res.json()["checks"]["backplane"]
    return check


async def test_redis_killed_while_messages_flow_loses_nothing_acknowledged(
    own_redis_server, live_server, figures
):
    guild = await make_guild(slug=f"kill-{uuid.uuid4().hex[:6]}")
    channels = [(await make_channel(guild["id"], name=f"c{i}"))["id"] for i in range(CHANNELS)]
    members = await member_cookies(guild["id"], SENDERS + FOLLOWERS, "redis-kill")
    base = f"http://localhost:{own_redis_server['port']}"
    origin = live_server.weokto_url
    senders = [await connect(base, cookie, origin=origin) for _, cookie in members[:SENDERS]]
    followers = [
        Follower(base, cookie, origin, channels, gap_check=False) for _, cookie in members[SENDERS:]
    ]
    for f in followers:
        await f.connect()
    assert (await _backplane_check(base))["ok"] is True

    flow, stop = Flow(senders, channels), asyncio.Event()
    flowing = asyncio.ensure_future(flow.run(stop))
    await asyncio.sleep(BEFORE_S)
    redis = own_redis_server["redis"]
    redis.process.send_signal(signal.SIGKILL)
    redis.process.wait()
    killed = time.monotonic()
    await asyncio.sleep(min(1.0, OUTAGE_S / 2))
    during = await _backplane_check(base)  # /readyz while Redis is down
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed)))

    restarting = time.monotonic()
    watching = asyncio.ensure_future(_watch_resubscribe(redis.port, restarting))
    own_redis_server["redis"] = await asyncio.to_thread(
        start_redis, own_redis_server["dir"], persist=False, port=redis.port
    )
    answered, resubscribed = await watching
    after = await _backplane_check(base)
    await asyncio.sleep(max(0.0, AFTER_S - (time.monotonic() - answered)))
    stop.set()
    await flowing
    await asyncio.gather(*flow.tasks)

    # Every follower holds every acknowledged message, through live pushes and the resync's
    # catch-up alone (no gap detection here: without the resync the missed ones stay missed).
    def missing() -> int:
        return sum(
            1
            for f in followers
            for cid in channels
            for seq in flow.acked[cid]
            if seq not in f.have[cid]
        )

    deadline = time.monotonic() + 30
    while missing() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for f in followers:
        await f.settle()

    first_live = min(t for f in followers for _, _, t in f.live if t > killed + 0.5)
    acked = sum(len(a) for a in flow.acked.values())
    lost = missing()
    figures.record(
        outage_s=OUTAGE_S,
        rate_msg_s=RATE,
        channels=CHANNELS,
        sent=flow.sent,
        acked=acked,
        not_acked=dict(flow.refused),
        delivered_live=sum(len({(c, s) for c, s, _ in f.live}) for f in followers),
        delivered_by_catch_up=sum(f.caught_messages for f in followers),
        followers=FOLLOWERS,
        acked_lost_after_catch_up=lost,
        resubscribe_s=round(resubscribed - answered, 3),
        live_resume_s=round(first_live - answered, 3),
        redis_boot_s=round(answered - restarting, 3),
        readyz_backplane_during=during["detail"],
        bound="0 acknowledged lost after catch-up; live pushes resume within 2 s of Redis",
    )
    assert during["ok"] is False and "ListenerDown: down for" in during["detail"], during
    assert after["ok"] is True, after
    metrics = await _metrics(base)
    assert "realtime_backplane_listening 1.0" in metrics
    assert "realtime_backplane_outages_total 1.0" in metrics
    assert f"realtime_backplane_resynced_sockets_total {float(FOLLOWERS + SENDERS)}" in metrics
    assert first_live - answered < 2.0
    assert lost == 0
    for f in followers:
        assert f.connects == 1 and f.client is not None and f.client.connected  # never dropped
        assert len(f.resyncs) == 1 and f.resyncs[0]["outage_ms"] >= OUTAGE_S * 1000
        assert f.errors == [] and f.pushed_twice == 0
        for cid in channels:
            assert f.timeline(cid) == list(range(1, f.last[cid] + 1))
            assert all(f.have[cid][seq]["client_msg_id"] == m for seq, m in flow.acked[cid].items())
    assert acked >= flow.sent * 0.95, flow.refused
    for client in [*senders, *(f.client for f in followers)]:
        if client is not None:
            await client.disconnect()
