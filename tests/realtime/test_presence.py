"""Presence bookkeeping in Redis: several sockets per user, and sockets of a dead process."""
from __future__ import annotations

import time

from realtime import presence
from server.redis import get_redis


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
