"""The Celery app object: its broker and delivery rules. Producers (the web process) and the
worker share it; the task modules and the beat schedule are added by `tasks.app`, so queueing
a job by name never imports the tasks (or the domains they call)."""

from __future__ import annotations

from celery import Celery

from core.settings import get_settings

VISIBILITY_TIMEOUT_S = 3600

celery_app = Celery("weokto", broker=get_settings().redis_url)
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
)
