"""One asyncio Redis client per process (per event loop) for rate limits, dev mail and checks."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.connection import parse_url

from core.settings import get_settings

_clients: dict[int, aioredis.Redis] = {}

# The Socket.IO servers, Celery and the API meet on this pub/sub channel.
BACKPLANE_CHANNEL = "socketio"

# Connections per process. A burst (thousands of sockets dropping at once, each disconnect
# updating presence) waits for a free connection instead of failing with "Too many connections".
MAX_CONNECTIONS = 64
POOL_TIMEOUT_S = 10


def get_redis() -> aioredis.Redis:
    # A client's connections belong to the loop that opened them; Celery tasks run on their
    # own loop, so the client is keyed by loop.
    loop_id = id(asyncio.get_running_loop())
    client = _clients.get(loop_id)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            get_settings().redis_url,
            decode_responses=True,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_TIMEOUT_S,
        )
        client = aioredis.Redis.from_pool(pool)
        _clients[loop_id] = client
    return client


async def close_redis() -> None:
    client = _clients.pop(id(asyncio.get_running_loop()), None)
    if client is not None:
        await client.aclose()


def backplane_channel(redis_url: str) -> str:
    """The pub/sub channel of the deployment on this Redis database.

    Pub/sub ignores SELECT: two deployments (or two test runs) on one Redis server but different
    database indexes would hear each other's pushes on one channel name, so the index is part of
    the name (index 0 keeps the plain name).
    """
    index = int(parse_url(redis_url).get("db", 0) or 0)
    return BACKPLANE_CHANNEL if index == 0 else f"{BACKPLANE_CHANNEL}:{index}"
