"""The emitter publishes only after commit; rolled-back events are never sent."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest
import redis.asyncio as aioredis

from core.redis import backplane_channel
from core.settings import get_settings
from db import uow
from db.auth.tables import User
from db.uow import atomic
from realtime import emitter


class Ping(msgspec.Struct, tag_field="type", tag="test.ping"):
    n: int


async def test_event_of_a_rolled_back_transaction_is_never_sent(captured_events):
    with pytest.raises(RuntimeError):
        async with atomic():
            await User.insert(User(platform="weokto", email="ghost@example.com"))
            emitter.queue("user:1", "test.ping", Ping(n=1))
            raise RuntimeError("boom")
    assert captured_events == []
    assert await User.count().where(User.email == "ghost@example.com") == 0


async def test_after_commit_hooks_run_once_per_key_before_the_events_and_not_on_rollback(
    captured_events,
):
    calls: list[tuple[str, int]] = []

    def hook(name: str):
        async def run() -> None:
            calls.append((name, len(captured_events)))

        return run

    async with atomic():
        emitter.queue("user:1", "test.ping", Ping(n=1))
        uow.on_commit("drop:1", hook("first"))
        async with atomic():
            uow.on_commit("drop:1", hook("again"))  # same key: one run
        assert calls == []
    assert calls == [("first", 0)] and len(captured_events) == 1  # before the publish
    with pytest.raises(RuntimeError):
        async with atomic():
            uow.on_commit("drop:2", hook("rolled back"))
            raise RuntimeError("boom")
    assert calls == [("first", 0)]
    with pytest.raises(RuntimeError):
        uow.on_commit("outside", hook("outside"))


async def test_after_write_publishes_at_exit_drops_on_error_and_joins_an_outer_block(
    captured_events,
):
    async with uow.after_write():  # an autocommitted statement's events
        await User.insert(User(platform="weokto", email="auto@example.com"))
        emitter.queue("user:1", "test.ping", Ping(n=1))
        assert captured_events == []
    assert [e["payload"]["n"] for e in captured_events] == [1]
    with pytest.raises(RuntimeError):
        async with uow.after_write():
            emitter.queue("user:1", "test.ping", Ping(n=2))
            raise RuntimeError("the statement failed")
    assert [e["payload"]["n"] for e in captured_events] == [1]
    with pytest.raises(RuntimeError):
        async with atomic():
            async with uow.after_write():
                emitter.queue("user:1", "test.ping", Ping(n=3))
            raise RuntimeError("the outer transaction rolls back")
    assert [e["payload"]["n"] for e in captured_events] == [1]


async def test_events_are_sent_after_commit_in_order(captured_events):
    async with atomic():
        await User.insert(User(platform="weokto", email="real@example.com"))
        emitter.queue("user:1", "test.ping", Ping(n=1))
        async with atomic():  # nested blocks join the outer commit
            emitter.queue("user:2", "test.ping", Ping(n=2))
        assert captured_events == []  # nothing leaves before the commit
    assert [(e["room"], e["payload"]) for e in captured_events] == [
        ("user:1", {"type": "test.ping", "n": 1}),
        ("user:2", {"type": "test.ping", "n": 2}),
    ]


async def test_queue_outside_a_transaction_is_a_bug():
    with pytest.raises(RuntimeError):
        emitter.queue("user:1", "test.ping", Ping(n=1))


async def test_committed_event_reaches_the_redis_backplane():
    """Without a capture, the event is published on the channel Socket.IO servers read."""
    listener = aioredis.Redis.from_url(get_settings().redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(backplane_channel(get_settings().redis_url))
    await pubsub.get_message(timeout=1.0)  # subscription confirmation
    emitter.reset_manager()
    async with atomic():
        emitter.queue("user:42", "test.ping", Ping(n=42))
    message = None
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            break
        await asyncio.sleep(0.05)
    await pubsub.aclose()
    await listener.aclose()
    assert message is not None, "nothing was published"
    raw = message["data"]
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        import pickle

        data = pickle.loads(raw)
    assert data["method"] == "emit" and data["event"] == "test.ping"
    # The manager publishes the emit's arguments as a list (one argument here).
    assert data["room"] == "user:42" and data["data"] == [{"type": "test.ping", "n": 42}]


async def test_coalesced_events_send_the_first_and_the_latest(captured_events, monkeypatch):
    monkeypatch.setattr(emitter, "COALESCE_S", 0.2)
    for n in range(1, 6):
        async with atomic():
            emitter.queue("guild:1", "test.ping", Ping(n=n), coalesce="k")
    async with atomic():
        emitter.queue("guild:1", "test.ping", Ping(n=100), coalesce="other")
    assert [e["payload"]["n"] for e in captured_events] == [1, 100]
    await asyncio.sleep(0.5)
    # The trailing edge carries the latest value; nothing in between is sent.
    assert [e["payload"]["n"] for e in captured_events] == [1, 100, 5]


async def test_the_trailing_edge_carries_the_highest_rank_not_the_last_arrival(
    captured_events, monkeypatch
):
    """Concurrent sends commit seq 2..5 but publish in another order: the unread summary must
    end on seq 5, and nothing below what was already sent goes out."""
    monkeypatch.setattr(emitter, "COALESCE_S", 0.2)
    for n in (3, 5, 2, 4):
        async with atomic():
            emitter.queue("guild:1", "test.ping", Ping(n=n), coalesce="k", rank=n)
    await asyncio.sleep(0.5)
    assert [e["payload"]["n"] for e in captured_events] == [3, 5]
    async with atomic():  # a new window: a lower rank than anything sent is still sent once
        emitter.queue("guild:1", "test.ping", Ping(n=1), coalesce="k", rank=1)
    assert [e["payload"]["n"] for e in captured_events] == [3, 5, 1]


async def test_a_burst_of_publishes_reaches_redis_on_one_connection_pool():
    """More events at once than the manager's pool has connections: none is dropped, and the
    manager is not torn down and rebuilt (its retry on a full pool replaces the client)."""
    listener = aioredis.Redis.from_url(get_settings().redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(backplane_channel(get_settings().redis_url))
    await pubsub.get_message(timeout=1.0)
    emitter.reset_manager()
    await emitter.publish_ephemeral("burst:0", "test.ping", Ping(n=0))
    client = emitter._get_manager().redis
    n = 400  # the pool holds 100 connections
    await asyncio.gather(
        *(emitter.publish_ephemeral(f"burst:{i}", "test.ping", Ping(n=i)) for i in range(1, n + 1))
    )
    seen = set()
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if message is None:
            break
        data = json.loads(message["data"])
        if data["room"].startswith("burst:"):
            seen.add(data["data"][0]["n"])
    await pubsub.aclose()
    await listener.aclose()
    assert seen == set(range(n + 1))
    assert emitter._get_manager().redis is client


def test_the_backplane_channel_names_the_redis_database() -> None:
    """Pub/sub ignores SELECT: deployments on one Redis server with different database indexes
    must not share a channel, or each would push into the other's rooms."""
    assert backplane_channel("redis://127.0.0.1:6379/0") == "socketio"
    assert backplane_channel("redis://127.0.0.1:6379") == "socketio"
    assert backplane_channel("redis://127.0.0.1:6379/9") == "socketio:9"
    assert backplane_channel("redis://127.0.0.1:6380/9") == backplane_channel("redis://h:1/9")
