"""One asyncio Redis client per process (per event loop) for rate limits, dev mail and checks."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from core.settings import get_settings

_clients: dict[int, aioredis.Redis] = {}

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
