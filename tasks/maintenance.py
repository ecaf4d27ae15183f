"""Housekeeping jobs run by beat."""

from __future__ import annotations

from tasks.app import celery_app
from tasks.runner import run


@celery_app.task(name="tasks.maintenance.purge_expired_logins", acks_late=True)
def purge_expired_logins() -> int:
    from server.domains.auth.actions import do_purge_expired_logins

    return run(do_purge_expired_logins())
