"""Readiness probes for PostgreSQL, Redis, the Celery workers and this process's Redis listener,
and the fan-out engine's state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import anyio
import msgspec
from piccolo.querystring import QueryString

from core.redis import get_redis
from db.piccolo_conf import DB

CHECK_TIMEOUT_S = 2.0


class CheckResult(msgspec.Struct):
    ok: bool
    latency_ms: float
    detail: str = ""


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, CheckResult]


async def _postgres() -> str:
    rows = await DB.run_querystring(QueryString("SELECT 1 AS one"))
    return "ok" if rows else "no rows"


async def _redis() -> str:
    await get_redis().ping()
    return "ok"


async def _celery() -> str:
    from core.queue import celery_app

    replies = await anyio.to_thread.run_sync(
        lambda: celery_app.control.ping(timeout=1.0, limit=1) or []
    )
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return f"{len(replies)} worker(s)"


class ListenerDown(Exception):
    """The Redis listener of this process is not subscribed (the message says since when)."""


async def _backplane() -> str:
    # Redis answering is not enough: the listener that carries other processes' events to this
    # process's sockets reconnects on its own schedule, and until it does nothing is pushed.
    from realtime.sio import backplane_status

    status = backplane_status()
    if not status.ok:
        raise ListenerDown(status.describe())
    return status.describe()


async def _fanout() -> str:
    from realtime.fanout import ENGINE

    return ENGINE.describe()


async def _run(check: Callable[[], Awaitable[str]]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        ok = True
    except Exception as exc:  # every failure is reported, never raised
        detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
    return CheckResult(
        ok=ok, latency_ms=round((time.perf_counter() - started) * 1000, 1), detail=detail
    )


async def readiness() -> Readiness:
    names = ("postgres", "redis", "celery", "backplane")
    results = await asyncio.gather(_run(_postgres), _run(_redis), _run(_celery), _run(_backplane))
    checks = dict(zip(names, results, strict=True))
    # Informational: on the fallback delivery still works (slower), so readiness does not
    # depend on it; the detail says "engine active", or "fallback: ..." / "degraded: ..." and why.
    checks["fanout"] = await _run(_fanout)
    return Readiness(status="ready" if all(r.ok for r in results) else "unavailable", checks=checks)
