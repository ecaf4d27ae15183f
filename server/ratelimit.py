"""Fixed-window rate limits in Redis, shared by every process.

Litestar's RateLimitConfig keys on the client only; login needs limits keyed by the
address being mailed as well, with the same 429 + Retry-After answer, so both go here.
Socket events and new direct conversations are limited here too: one table of budgets,
refusals answered the same way (RateLimited: an error ack with code rate_limited and
retry_after) and counted per limit name for /metrics.
"""

from __future__ import annotations

import msgspec
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis import get_redis
from server.errors import RateLimited

log = structlog.get_logger(__name__)

# Refusals per limit name, in a Redis hash so every web process exposes the same totals.
REFUSALS_KEY = "metrics:ratelimit_refusals"

# One round trip, atomic, and Redis 6 compatible (EXPIRE ... NX needs Redis 7): the window
# starts at the first hit and the key can never be left without an expiry. A refusal is
# counted in the same round trip.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then redis.call('HINCRBY', KEYS[2], ARGV[3], 1) end
return {count, redis.call('TTL', KEYS[1])}
"""


class Limit(msgspec.Struct, frozen=True):
    name: str
    max_hits: int
    window_s: int


# Socket events, per user and kind. A browser does each of these a few times a minute at
# most; the budgets leave room for bursts (joining every channel of a guild on connect,
# toggling a few reactions) and stop a script flooding a room with pushes.
SOCKET_HELLO = Limit("socket-hello", max_hits=30, window_s=60)  # one per page load
SOCKET_JOIN = Limit("socket-join", max_hits=120, window_s=60)  # joins and leaves
SOCKET_SEND = Limit("socket-send", max_hits=50, window_s=10)  # over every stream
SOCKET_EDIT = Limit("socket-edit", max_hits=10, window_s=10)
SOCKET_DELETE = Limit("socket-delete", max_hits=30, window_s=30)
SOCKET_REACT = Limit("socket-react", max_hits=20, window_s=10)
SOCKET_TYPING = Limit("socket-typing", max_hits=20, window_s=10)
SOCKET_MARK_READ = Limit("socket-mark-read", max_hits=60, window_s=10)
# Direct conversations a user may start: enough to reach a few people, not the platform.
DM_NEW = Limit("dm-new", max_hits=10, window_s=3600)


async def hit(limit: Limit, subject: str, message: str) -> None:
    """Count one hit for `subject`; raise RateLimited once the window's budget is spent."""
    key = f"rl:{limit.name}:{subject}"
    try:
        count, ttl = await get_redis().eval(
            _HIT, 2, key, REFUSALS_KEY, limit.window_s, limit.max_hits, limit.name
        )
    except (RedisConnectionError, RedisTimeoutError):
        # Fail open: while Redis is down, refusing every chat send (a 5xx) would be worse than
        # a few minutes without flood limits; the database, not Redis, holds what matters.
        log.warning("rate limit skipped: Redis unavailable", limit=limit.name)
        return
    if count > limit.max_hits:
        raise RateLimited(message, retry_after=ttl if ttl and ttl > 0 else limit.window_s)
