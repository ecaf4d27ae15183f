"""The Celery app object: its broker and delivery rules. Producers (the web process) and the
worker share it; the task modules and the beat schedule are added by `tasks.app`, so queueing
a job by name never imports the tasks (or the domains they call)."""

from __future__ import annotations

import os

from celery import Celery

from core.settings import get_settings

# A task taken by a worker that dies without a word (SIGKILL, OOM) is handed out again once
# this many seconds have passed since it was taken (acks_late). The fault suite shortens it
# (CELERY_VISIBILITY_TIMEOUT_S) to see killed tasks come back within the test.
VISIBILITY_TIMEOUT_S = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_S") or 3600)
# Kombu looks for such tasks every interval x throttle seconds (100 s by its defaults): look
# every tenth of the timeout, at most every 10 s, so one comes back soon after it is due.
RESTORE_INTERVAL_S = max(1, min(10, VISIBILITY_TIMEOUT_S // 10))

celery_app = Celery("weokto", broker=get_settings().redis_url)
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "unacked_restore_interval": RESTORE_INTERVAL_S,
        "unacked_restore_throttle": 1,
        # A sweep holds a Redis mutex; a worker killed inside one leaves it held this long, and
        # nothing comes back meanwhile: never longer than the timeout itself (5 min at most).
        "unacked_mutex_expire": min(300, max(5, VISIBILITY_TIMEOUT_S)),
    },
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
)
