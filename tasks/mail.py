"""Mail tasks: thin, idempotent wrappers of the actions that claim, render and send each mail."""

from __future__ import annotations

import smtplib
from typing import Any

from tasks.app import celery_app
from tasks.runner import run

# A refused or unreachable mail server is retried with backoff; anything else is a bug.
RETRY: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "max_retries": 6,
}


@celery_app.task(name="tasks.mail.send_login_email", bind=True, **RETRY)
def send_login_email(self: Any, platform: str, email: str) -> bool:
    from server.domains.auth.actions import do_send_login_email
    from server.domains.platforms.queries import Platform

    return run(do_send_login_email(self.request.id, Platform(platform), email))


@celery_app.task(name="tasks.mail.send_receipt", **RETRY)
def send_receipt(invoice_id: int) -> bool:
    """One receipt per paid invoice (first payment and every renewal)."""
    from server.domains.billing.notices import do_send_receipt

    return run(do_send_receipt(invoice_id))


@celery_app.task(name="tasks.mail.send_dunning", **RETRY)
def send_dunning(stripe_invoice_id: str, subscription_id: str) -> bool:
    from server.domains.billing.notices import do_send_dunning

    return run(do_send_dunning(stripe_invoice_id, subscription_id))


@celery_app.task(name="tasks.mail.send_renewal_reminders", **RETRY)
def send_renewal_reminders() -> int:
    """Daily: 7-day and 1-day renewal reminders, each sent once per period."""
    from server.domains.billing.notices import do_send_reminders

    return run(do_send_reminders())
