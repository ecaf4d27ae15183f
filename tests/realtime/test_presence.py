"""Presence bookkeeping in Redis: several sockets per user, and sockets of a dead process."""

from __future__ import annotations

import time

from core.redis import get_redis
from realtime import presence


async def test_online_until_the_last_socket_leaves():
    assert await presence.connect(7, "sid-a") is True
    assert await presence.connect(7, "sid-b") is False  # second tab: no new "online"
    assert await presence.is_online(7)
    assert await presence.disconnect(7, "sid-a") is False
    assert await presence.online_among([7, 8]) == {7}
    assert await presence.disconnect(7, "sid-b") is True
    assert not await presence.is_online(7)


async def test_sockets_of_a_dead_process_expire_and_are_swept():
    await presence.connect(9, "live-sid")
    await presence.connect(10, "dead-sid")
    # The dead process stopped refreshing: its entry's expiry is in the past.
    await get_redis().zadd("presence:user:10", {"dead-sid": time.time() - 1})
    await presence.refresh({"live-sid": 9})
    assert await presence.online_among([9, 10]) == {9}
    assert await presence.sweep() == [10]
    assert await presence.sweep() == []
    assert await presence.user_sids(9) == ["live-sid"]


async def test_presence_changes_within_a_window_are_batched(captured_events, monkeypatch):
    import asyncio

    from server.domains.guilds import events

    monkeypatch.setattr(events, "PRESENCE_WINDOW_S", 0.2)
    batcher = events.PresenceBatcher()
    for user_id in (1, 2, 3):
        await batcher.note(5, user_id, "online")
    await batcher.note(5, 3, "offline")
    assert [e["payload"] for e in captured_events] == [
        {"type": "presence", "guild_id": 5, "user_id": 1, "status": "online"}
    ]
    await asyncio.sleep(0.4)
    assert captured_events[-1]["event"] == "presence_batch"
    assert captured_events[-1]["room"] == "guild:5"
    assert captured_events[-1]["payload"] == {
        "type": "presence_batch",
        "guild_id": 5,
        "online": [2],
        "offline": [3],
    }


async def test_a_mass_disconnect_waits_for_connections_instead_of_failing():
    """Thousands of sockets dropping at once (a proxy restart) each update presence: more
    concurrent commands than the pool has connections must queue, not raise, or users would
    stay "online" with no socket."""
    import asyncio

    from core import redis as redis_module

    users = range(1000, 1000 + 4 * redis_module.MAX_CONNECTIONS)
    await asyncio.gather(*(presence.connect(u, f"sid-{u}") for u in users))
    left = await asyncio.gather(*(presence.disconnect(u, f"sid-{u}") for u in users))
    assert all(left)
    assert await presence.online_among(list(users)) == set()
    assert get_redis().connection_pool.max_connections == redis_module.MAX_CONNECTIONS
