"""Pool lifecycle and the atomic() block that flushes realtime events after commit."""
from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

from db.piccolo_conf import DB


def engine() -> PostgresEngine:
    return DB


async def open_pool(max_size: int = 10) -> None:
    # asyncpg's min_size defaults to 10 idle connections per process: keep it small.
    await DB.start_connection_pool(min_size=1, max_size=max_size)


async def close_pool() -> None:
    await DB.close_connection_pool()
