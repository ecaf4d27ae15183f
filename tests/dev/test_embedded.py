"""Embedded PostgreSQL and Redis start, answer, and leave no process behind; explicit URLs start nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import psutil

from devtools.embedded import EmbeddedPostgres, EmbeddedRedis, redis_answers, resolve_services


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _redis_ping(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    return redis_answers(port)


async def test_embedded_services_start_answer_and_stop(tmp_path: Path) -> None:
    services = resolve_services(tmp_path, {}, db_name="probe", persist_redis=False)
    try:
        postgres, redis = services.started
        assert isinstance(postgres, EmbeddedPostgres) and isinstance(redis, EmbeddedRedis)
        conn = await asyncpg.connect(services.database_url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "probe"
        finally:
            await conn.close()
        assert _redis_ping(services.redis_url)
        pg_pid, redis_pid = postgres.pid, redis.process.pid
        assert pg_pid is not None and not _gone(pg_pid)

        # Given both URLs, nothing new starts and stop() leaves the given servers alone.
        given = resolve_services(
            tmp_path / "unused",
            {"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url},
        )
        assert given.started == []
        assert (given.database_url, given.redis_url) == (services.database_url, services.redis_url)
        given.stop()
        assert not (tmp_path / "unused").exists()
        assert _redis_ping(services.redis_url) and not _gone(pg_pid)
    finally:
        services.stop()

    assert _gone(pg_pid) and _gone(redis_pid)
    with socket.socket(socket.AF_UNIX) as sock:
        assert sock.connect_ex(str(tmp_path / "pg" / ".s.PGSQL.5432")) != 0
