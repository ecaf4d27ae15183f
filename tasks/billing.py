"""Billing tasks: process stored Stripe events (idempotent: the row is claimed first)."""
from __future__ import annotations

from tasks.app import celery_app
from tasks.runner import run


@celery_app.task(name="tasks.billing.process_stripe_event", acks_late=True,
                 autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=600,
                 max_retries=8)
def process_stripe_event(stripe_id: str) -> str:
    from server.domains.billing.webhooks import do_process_event

    return run(do_process_event(stripe_id))
