"""Test-side process management: the stack's processes with log files, and per-test cleanup.

Ports, waits and process-group kills come from devtools (shared with `make run`); only what is
specific to tests lives here.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from devtools.embedded import Services
from devtools.procs import ROOT, http_status, spawn, stop_groups, tail, tcp_answers, wait_until

MAIL_KEY = "dev:mail"
# Kombu keeps queue->exchange bindings in these sets, written once when a worker starts; deleting
# them (as FLUSHDB would) makes every later publish fail with "Cannot route message".
KEEP_PREFIXES = (b"_kombu.binding.",)


@dataclass
class Stack:
    """Everything pytest_configure resolved for the session (stored on the pytest config)."""

    tmp: Path
    services: Services
    env: dict[str, str]
    port: int
    smtp_port: int
    processes: list[ManagedProcess] = field(default_factory=list)


@dataclass
class ManagedProcess:
    """A subprocess in its own process group whose output goes to a log file."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    ready: Callable[[], bool]
    ready_timeout: float = 60.0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> ManagedProcess:
        if self.alive:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = spawn(self.argv, self.env, stdout=log, cwd=ROOT)
        try:
            wait_until(
                self.ready, self.ready_timeout, self.name, alive=lambda: self.alive, interval=0.2
            )
        except (RuntimeError, TimeoutError) as err:
            self.stop()
            raise RuntimeError(f"{err}\n--- {self.log_path}:\n{self.log_tail()}") from None
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            stop_groups([self.proc], timeout=timeout)

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)


def port_ready(port: int) -> Callable[[], bool]:
    return lambda: tcp_answers("127.0.0.1", port)


def http_ready(url: str) -> Callable[[], bool]:
    return lambda: http_status(url) == 200


def celery_ready(node: str) -> Callable[[], bool]:
    def check() -> bool:
        from tasks.app import celery_app  # late: env must be set before the app is built

        return bool(celery_app.control.ping(destination=[node], timeout=0.5))

    return check


TRUNCATE_ATTEMPTS = 5


async def truncate_tables(database_url: str, tables: Sequence[str]) -> None:
    if not tables:
        return
    conn = await asyncpg.connect(database_url)
    try:
        # A worker task of the previous test may still be writing: its row locks and the
        # TRUNCATE's table lock can deadlock, and PostgreSQL may pick the TRUNCATE as the victim.
        # The other side finishes quickly, so trying again is enough.
        for attempt in range(TRUNCATE_ATTEMPTS):
            try:
                await conn.execute(f"TRUNCATE TABLE {', '.join(tables)} RESTART IDENTITY CASCADE")
                return
            except asyncpg.exceptions.DeadlockDetectedError:
                if attempt == TRUNCATE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
    finally:
        await conn.close()


async def clear_redis(redis_url: str) -> None:
    """FLUSHDB, except Celery's routing tables (see KEEP_PREFIXES)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        doomed = [
            key async for key in client.scan_iter(count=1000) if not key.startswith(KEEP_PREFIXES)
        ]
        for start in range(0, len(doomed), 500):
            await client.unlink(*doomed[start : start + 500])
    finally:
        await client.aclose()


async def wait_for_mail(
    redis_url: str, to_email: str, timeout: float = 15.0, exclude: Collection[str] = ()
) -> tuple[str, dict[str, Any]]:
    """Newest caught message to `to_email` whose raw JSON is not in `exclude`, as (raw, parsed)."""
    wanted = to_email.lower()
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    try:
        while True:
            raws = await client.lrange(MAIL_KEY, 0, -1)  # LPUSH: newest first
            seen = [json.loads(raw) for raw in raws]
            for raw, mail in zip(raws, seen, strict=True):
                if raw not in exclude and wanted in (addr.lower() for addr in mail.get("to", [])):
                    return raw, mail
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()
    summary = [(m.get("to"), m.get("subject")) for m in seen[:10]] or "nothing"
    raise TimeoutError(
        f"no new mail to {to_email} within {timeout:.0f}s; the catcher has {summary}"
    )


def resolve_localhost_subdomains() -> None:
    """Resolve `*.localhost` to 127.0.0.1 in this process, as browsers do (RFC 6761).

    glibc without nss-myhostname/systemd-resolved does not, and live_server.stam_url is
    http://stam.localhost:PORT; the servers listen on 127.0.0.1 only.
    """
    original = socket.getaddrinfo
    if getattr(original, "_localhost_subdomains", False):
        return

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if isinstance(host, str) and host.lower().rstrip(".").endswith(".localhost"):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    getaddrinfo._localhost_subdomains = True  # type: ignore[attr-defined]
    socket.getaddrinfo = getaddrinfo


def worker_node_name() -> str:
    # Unique per session so ping() can target exactly our worker.
    return f"test-{os.getpid()}@localhost"
