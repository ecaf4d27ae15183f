"""Ledger tasks: converge an invoice's commission effects; mature what is due (idempotent)."""

from __future__ import annotations

from tasks.app import celery_app
from tasks.runner import run


@celery_app.task(
    name="tasks.ledger.sync_invoice",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
)
def sync_invoice(invoice_id: int) -> list[str]:
    """Post whatever the invoice implies and the ledger lacks; a replay posts nothing."""
    from server.domains.affiliates.actions.commissions import do_sync_invoice

    return run(do_sync_invoice(invoice_id)).posted


@celery_app.task(
    name="tasks.ledger.sync_purchase",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
)
def sync_purchase(purchase_id: int) -> int:
    """Sync all invoices of a purchase: enqueue it when the purchase's attribution is made."""
    from server.domains.affiliates.actions.commissions import do_sync_purchase

    return run(do_sync_purchase(purchase_id))


@celery_app.task(name="tasks.ledger.mature_due", acks_late=True)
def mature_due() -> int:
    """Unlock every commission part whose date has passed (safe to run twice at once)."""
    from server.domains.affiliates.actions.maturation import do_mature_due

    return run(do_mature_due()).commissions


@celery_app.task(name="tasks.ledger.catch_up", acks_late=True)
def catch_up() -> int:
    """Sync the invoices whose commission, clawback or dispute effect is missing."""
    from server.domains.affiliates.actions.commissions import do_catch_up

    return run(do_catch_up())
