"""Run async domain actions from sync Celery tasks on one event loop per worker process.

A persistent loop (rather than asyncio.run per task) lets the asyncpg pool and Redis
clients live across tasks; each forked worker child makes its own on first use.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    if _loop is None or _loop_pid != os.getpid():
        _loop = asyncio.new_event_loop()
        _loop_pid = os.getpid()
        _loop.run_until_complete(_open())
    return _loop


async def _open() -> None:
    from db.engine import open_pool
    from realtime import emitter

    emitter.reset_manager()
    await open_pool(max_size=4)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return _get_loop().run_until_complete(coro)
