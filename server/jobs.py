"""Queue Celery tasks from async code by name (the tasks package is never imported here)."""

from __future__ import annotations

from typing import Any

import anyio

from core.queue import celery_app
from server.errors import AppError


class Unavailable(AppError):
    status_code = 503
    code = "unavailable"


async def enqueue(task_name: str, *args: Any) -> None:
    def _send() -> None:
        celery_app.send_task(task_name, args=list(args))

    try:
        # send_task does blocking broker I/O: keep it off the event loop.
        await anyio.to_thread.run_sync(_send)
    except Exception as exc:
        raise Unavailable("The job queue is unavailable, try again shortly") from exc
