"""Fixed-window rate limits in Redis, shared by every process.

Litestar's RateLimitConfig keys on the client only; login needs limits keyed by the
address being mailed as well, with the same 429 + Retry-After answer, so both go here.
"""
from __future__ import annotations

import msgspec

from server.errors import RateLimited
from server.redis import get_redis


class Limit(msgspec.Struct, frozen=True):
    name: str
    max_hits: int
    window_s: int


async def hit(limit: Limit, subject: str, message: str) -> None:
    """Count one hit for `subject`; raise RateLimited once the window's budget is spent."""
    key = f"rl:{limit.name}:{subject}"
    redis = get_redis()
    pipe = redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, limit.window_s, nx=True)
    pipe.ttl(key)
    count, _, ttl = await pipe.execute()
    if count > limit.max_hits:
        raise RateLimited(message, retry_after=ttl if ttl and ttl > 0 else limit.window_s)
