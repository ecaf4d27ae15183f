"""Pool lifecycle and the atomic() block that flushes realtime events after commit."""

from __future__ import annotations

from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from db.piccolo_conf import DB

# What a query raises while PostgreSQL is down, restarting or unreachable (seen in the fault
# suite's immediate stop): the socket is gone (FileNotFoundError, ConnectionRefusedError), a
# connection died mid-query, or the server is starting up or shutting down. Callers answer these
# with "unavailable, try again" (HTTP 503, an `unavailable` socket ack) instead of a 500: the
# request did nothing, and a retry with the same idempotency key is safe. TimeoutError is an
# OSError too (a connect that timed out).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)
# A connect that hangs (an unreachable host) fails after this many seconds instead of holding
# the request for asyncpg's default minute.
CONNECT_TIMEOUT_S = 5.0


def engine() -> PostgresEngine:
    return DB


async def keep_session(connection: Any) -> None:
    """Release a pooled connection without asyncpg's reset query.

    By default every release sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`,
    one more round trip for each query Piccolo runs outside a transaction (most reads). This
    code keeps no session state: no session SET, LISTEN, session advisory lock or cursor (locks
    are transaction-scoped). asyncpg still rolls back an open transaction before calling this,
    so a connection dropped mid-transaction comes back clean (tests/ops/test_db_pool.py).
    """


async def open_pool(max_size: int = 10) -> None:
    # asyncpg's min_size defaults to 10 idle connections per process: keep it small.
    await DB.start_connection_pool(
        min_size=1, max_size=max_size, reset=keep_session, timeout=CONNECT_TIMEOUT_S
    )


async def close_pool() -> None:
    await DB.close_connection_pool()
