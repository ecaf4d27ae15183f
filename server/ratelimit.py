"""Fixed-window rate limits in Redis, shared by every process.

Litestar's RateLimitConfig keys on the client only; login needs limits keyed by the
address being mailed as well, with the same 429 + Retry-After answer, so both go here.
"""

from __future__ import annotations

import msgspec
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis import get_redis
from server.errors import RateLimited

log = structlog.get_logger(__name__)


# One round trip, atomic, and Redis 6 compatible (EXPIRE ... NX needs Redis 7): the window
# starts at the first hit and the key can never be left without an expiry.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


class Limit(msgspec.Struct, frozen=True):
    name: str
    max_hits: int
    window_s: int


async def hit(limit: Limit, subject: str, message: str) -> None:
    """Count one hit for `subject`; raise RateLimited once the window's budget is spent."""
    key = f"rl:{limit.name}:{subject}"
    try:
        count, ttl = await get_redis().eval(_HIT, 1, key, limit.window_s)
    except (RedisConnectionError, RedisTimeoutError):
        # Fail open: while Redis is down, refusing every chat send (a 5xx) would be worse than
        # a few minutes without flood limits; the database, not Redis, holds what matters.
        log.warning("rate limit skipped: Redis unavailable", limit=limit.name)
        return
    if count > limit.max_hits:
        raise RateLimited(message, retry_after=ttl if ttl and ttl > 0 else limit.window_s)
