"""Mail tasks: thin, idempotent wrappers of the actions that claim, render and send each mail."""

from __future__ import annotations

import smtplib
from typing import Any

from tasks.app import celery_app
from tasks.runner import run

# A temporary failure (a 4xx reply, a mail server down or unreachable) is retried with backoff.
# A permanent refusal (5xx: MailRefused, neither an SMTPException nor an OSError) is final: the
# billing mails record it with their claim, the login mail here; anything else is a bug.
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
    from server.domains.mail.actions import do_record_refusal
    from server.domains.mail.smtp import MailRefused
    from server.domains.platforms.queries import Platform

    try:
        return run(do_send_login_email(self.request.id, Platform(platform), email))
    except MailRefused as refusal:
        run(do_record_refusal("login", str(self.request.id), refusal))
        return False


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
    """Hourly: 7-day and 1-day renewal reminders, each sent once per period."""
    from server.domains.billing.notices import do_send_reminders

    return run(do_send_reminders())
