"""Realtime tasks: prove the worker-to-browser path through the Redis backplane."""
from __future__ import annotations

import socket

from tasks.app import celery_app
from tasks.runner import run


@celery_app.task(name="tasks.realtime.welcome", acks_late=True, ignore_result=True)
def welcome(user_id: int) -> bool:
    from server.domains.auth.actions import do_welcome

    return run(do_welcome(user_id, worker=f"celery@{socket.gethostname()}"))
