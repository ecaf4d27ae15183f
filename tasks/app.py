"""The Celery app (Redis broker), its beat schedule and task-outcome metrics."""

from __future__ import annotations

from celery import Task
from celery.schedules import crontab
from celery.signals import task_failure, task_retry, task_success

import db  # noqa: F401  -- sets PICCOLO_CONF before any table import
from core.queue import celery_app
from core.settings import get_settings
from tasks import (
    beat_lock,  # noqa: F401  -- one beat only: the lock is taken at beat_init
    logs,  # noqa: F401  -- worker and beat log like the web process (LOG_JSON)
)

celery_app.conf.include = [
    "tasks.mail",
    "tasks.realtime",
    "tasks.maintenance",
    "tasks.billing",
    "tasks.ledger",
]
celery_app.conf.update(
    beat_schedule={
        "sweep-presence": {
            "task": "tasks.realtime.sweep_presence",
            "schedule": 60.0,
        },
        "stripe-reconcile": {
            "task": "tasks.billing.reconcile",
            "schedule": crontab(hour=3, minute=30),
        },
        "stripe-drain": {
            "task": "tasks.billing.drain_stripe_events",
            "schedule": 60.0,  # a backstop: the webhook endpoint queues drains itself
        },
        "payment-grace": {
            "task": "tasks.billing.end_lapsed_grace",
            "schedule": crontab(minute=35),  # hourly; set-based and idempotent
        },
        "ledger-mature-due": {
            "task": "tasks.ledger.mature_due",
            "schedule": crontab(minute="*/10"),  # set-based and idempotent; unlocks are days wide
        },
        "ledger-catch-up": {
            "task": "tasks.ledger.catch_up",
            "schedule": crontab(minute="5-59/10"),  # a commission's attribution may land late
        },
        "renewal-reminders": {
            "task": "tasks.mail.send_renewal_reminders",
            "schedule": crontab(minute=5),  # hourly: the windows are days wide, sends are once
        },
        "purge-expired-logins": {
            "task": "tasks.maintenance.purge_expired_logins",
            "schedule": crontab(minute=17),
        },
    },
)


_metrics_client = None


def _count(task_name: str, state: str) -> None:
    import redis

    from server.domains.ops.metrics import TASKS_KEY

    global _metrics_client
    try:
        # One client per worker process: a new connection per task showed in profiles.
        if _metrics_client is None:
            _metrics_client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=1)
        _metrics_client.hincrby(TASKS_KEY, f"{task_name}|{state}", 1)
    except redis.RedisError:
        pass  # metrics must never fail a task


@task_success.connect
def _on_success(sender: Task | None = None, **_: object) -> None:
    if sender is not None:
        _count(sender.name, "success")


@task_failure.connect
def _on_failure(sender: Task | None = None, **_: object) -> None:
    if sender is not None:
        _count(sender.name, "failure")


@task_retry.connect
def _on_retry(sender: Task | None = None, **_: object) -> None:
    if sender is not None:
        _count(sender.name, "retry")
