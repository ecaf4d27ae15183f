"""Billing tasks: process stored Stripe events (idempotent: the row is claimed first)."""

from __future__ import annotations

from celery import Task

from tasks.app import celery_app
from tasks.runner import run


@celery_app.task(
    name="tasks.billing.process_stripe_event",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
    bind=True,
)
def process_stripe_event(self: Task, stripe_id: str) -> str:
    from server.domains.billing.actions.webhooks import do_process_event

    # The task id survives a redelivery and a retry: the claim it made is resumed at once.
    return run(do_process_event(stripe_id, claimer=self.request.id or ""))


@celery_app.task(
    name="tasks.billing.drain_stripe_events",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
    bind=True,
)
def drain_stripe_events(self: Task) -> int:
    """Process the stored events in batches (queued by the webhook endpoint, and every minute
    by beat for anything a lost task left behind)."""
    from server.domains.billing.actions.webhooks import do_drain

    return run(do_drain(claimer=self.request.id or ""))


async def _sync(kind: str, row_id: int) -> str:
    from server.domains.catalog.actions import do_sync_plan, do_sync_product

    return await (do_sync_product(row_id) if kind == "product" else do_sync_plan(row_id))


@celery_app.task(
    name="tasks.billing.sync_catalog",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=10,
)
def sync_catalog(kind: str, row_id: int) -> str:
    """Mirror a product or plan to Stripe; safe to run twice (idempotency keys)."""
    return run(_sync(kind, row_id))


async def _reconcile() -> int:
    from server.domains.billing.actions.reconcile import do_reconcile
    from server.domains.billing.actions.webhooks import request_drain

    result = await do_reconcile()
    if result.missed:  # stored as 'received', like a webhook's: the drain takes them
        await request_drain()
    return len(result.missed)


@celery_app.task(name="tasks.billing.reconcile", acks_late=True)
def reconcile() -> int:
    """Apply what the webhook endpoint missed (down, or a delivery that never came)."""
    return run(_reconcile())


@celery_app.task(name="tasks.billing.end_lapsed_grace", acks_late=True)
def end_lapsed_grace() -> int:
    """Hourly: paid access ends for purchases past due for longer than the grace period."""
    from server.domains.billing.actions.purchases import do_end_lapsed_grace

    return run(do_end_lapsed_grace())
