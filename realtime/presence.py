"""Who is online, across tabs and server processes, kept in Redis.

Each socket is an entry `sid` in the sorted set `presence:user:{id}` scored by its expiry;
every server process refreshes the entries of its own sockets, so a process that dies
takes its sockets offline when their entries expire (swept by a beat task). A user is
online while at least one entry is live; only the first and last socket flip the status.
"""

from __future__ import annotations

import time

from core.redis import get_redis

TTL_S = 90
HEARTBEAT_S = 30
ONLINE_SET = "presence:online"


def _user_key(user_id: int) -> str:
    return f"presence:user:{user_id}"


def guild_key(guild_id: int) -> str:
    return f"presence:guild:{guild_id}"


# Atomically add the socket and tell whether the user just came online.
_CONNECT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return before
"""

# Atomically drop the socket (and expired ones) and tell whether the user went offline.
_DISCONNECT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return left
"""


async def connect(user_id: int, sid: str) -> bool:
    """Register a socket; True when this made the user online."""
    now = time.time()
    before = await get_redis().eval(
        _CONNECT, 2, _user_key(user_id), ONLINE_SET, sid, now, now + TTL_S, TTL_S * 2, user_id
    )
    return int(before) == 0


async def disconnect(user_id: int, sid: str) -> bool:
    """Forget a socket; True when the user has no live socket left."""
    left = await get_redis().eval(
        _DISCONNECT, 2, _user_key(user_id), ONLINE_SET, sid, time.time(), user_id
    )
    return int(left) == 0


async def refresh(entries: dict[str, int]) -> None:
    """Heartbeat for this process's sockets (sid -> user id)."""
    if not entries:
        return
    expiry = time.time() + TTL_S
    pipe = get_redis().pipeline(transaction=False)
    for sid, user_id in entries.items():
        pipe.zadd(_user_key(user_id), {sid: expiry})
        pipe.expire(_user_key(user_id), TTL_S * 2)
    await pipe.execute()


async def user_sids(user_id: int) -> list[str]:
    # The client decodes responses, so members are str.
    return [
        str(sid) for sid in await get_redis().zrangebyscore(_user_key(user_id), time.time(), "+inf")
    ]


async def is_online(user_id: int) -> bool:
    return await get_redis().zcount(_user_key(user_id), time.time(), "+inf") > 0


async def online_among(user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    pipe = get_redis().pipeline(transaction=False)
    now = time.time()
    for uid in user_ids:
        pipe.zcount(_user_key(uid), now, "+inf")
    counts = await pipe.execute()
    return {uid for uid, n in zip(user_ids, counts, strict=True) if n}


async def sweep() -> list[int]:
    """Users whose every socket expired (their process died): mark them offline."""
    gone: list[int] = []
    for raw in await get_redis().smembers(ONLINE_SET):
        user_id = int(raw)
        if await disconnect(user_id, ""):
            gone.append(user_id)
    return gone
