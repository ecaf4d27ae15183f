"""One asyncio Redis client per process (per event loop) for rate limits, dev mail and checks."""
from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from server.settings import get_settings

_clients: dict[int, aioredis.Redis] = {}


def get_redis() -> aioredis.Redis:
    # A client's connections belong to the loop that opened them; Celery tasks run on their
    # own loop, so the client is keyed by loop.
    loop_id = id(asyncio.get_running_loop())
    client = _clients.get(loop_id)
    if client is None:
        client = aioredis.Redis.from_url(get_settings().redis_url, decode_responses=True)
        _clients[loop_id] = client
    return client


async def close_redis() -> None:
    client = _clients.pop(id(asyncio.get_running_loop()), None)
    if client is not None:
        await client.aclose()
