"""Mail tasks: issue a login code and deliver it over SMTP, at most once per task id."""

from __future__ import annotations

import smtplib
from urllib.parse import quote

from tasks.app import celery_app
from tasks.runner import run

DONE_TTL_S = 24 * 3600


async def _send_login(task_id: str, platform: str, email: str) -> bool:
    from core.redis import get_redis
    from server.domains.auth.actions import do_issue_login_token
    from server.domains.auth.security import LOGIN_TTL_S
    from server.domains.mail.render import build_message
    from server.domains.mail.smtp import send
    from server.domains.platforms.queries import Platform, branding

    done_key = f"mail:done:{task_id}"
    if await get_redis().exists(done_key):
        return False  # redelivered after a successful send: do not mail twice
    brand = branding(Platform(platform))
    issued = await do_issue_login_token(Platform(platform), email)
    link = f"{brand.base_url}/api/auth/magic-link/verify?token={quote(issued.token)}"
    msg = build_message(
        "login", email, brand, code=issued.otp, link=link, minutes=LOGIN_TTL_S // 60
    )
    send(msg)
    await get_redis().set(done_key, "1", ex=DONE_TTL_S)
    return True


@celery_app.task(
    name="tasks.mail.send_login_email",
    bind=True,
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=6,
)
def send_login_email(self, platform: str, email: str) -> bool:
    return run(_send_login(self.request.id, platform, email))


async def _send_receipt(invoice_id: int) -> bool:
    from db.billing.tables import Invoice
    from server.domains.billing.notices import money
    from server.domains.billing.receipts import receipt_number, receipt_path
    from server.domains.mail.render import build_message
    from server.domains.mail.smtp import send
    from server.domains.platforms.queries import Platform, branding

    # Claim first: a redelivered or concurrent task finds the receipt taken and stops.
    rows = await Invoice.raw(
        "UPDATE invoices i SET receipt_sent_at = now() FROM purchases p, users u, products pr, "
        "plans pl WHERE i.id = {} AND i.receipt_sent_at IS NULL AND i.status = 'paid' "
        'AND p.id = i.purchase AND u.id = p."user" AND pr.id = p.product AND pl.id = p.plan '
        "RETURNING i.id, i.purchase, i.stripe_invoice_id, i.amount_paid_cents, i.currency, "
        "i.paid_at, u.email, u.platform, pr.name AS product, pl.name AS plan",
        invoice_id,
    )
    if not rows:
        return False
    r = rows[0]
    amount = money(r["amount_paid_cents"], r["currency"])
    brand = branding(Platform(r["platform"]))
    msg = build_message(
        "receipt",
        r["email"],
        brand,
        amount=amount,
        product=r["product"],
        plan=r["plan"],
        invoice=r["stripe_invoice_id"],
        paid_at=f"{r['paid_at']:%Y-%m-%d}" if r["paid_at"] else "",
        number=receipt_number(r["platform"], r["id"]),
        receipt_url=brand.base_url + receipt_path(r["purchase"], r["id"]),
    )
    try:
        send(msg)
    except Exception:
        await Invoice.raw("UPDATE invoices SET receipt_sent_at = NULL WHERE id = {}", invoice_id)
        raise
    return True


@celery_app.task(
    name="tasks.mail.send_receipt",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=6,
)
def send_receipt(invoice_id: int) -> bool:
    """One receipt per paid invoice (first payment and every renewal)."""
    return run(_send_receipt(invoice_id))


@celery_app.task(
    name="tasks.mail.send_dunning",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=6,
)
def send_dunning(stripe_invoice_id: str, subscription_id: str) -> bool:
    from server.domains.billing.notices import do_send_dunning

    return run(do_send_dunning(stripe_invoice_id, subscription_id))


@celery_app.task(
    name="tasks.mail.send_renewal_reminders",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=6,
)
def send_renewal_reminders() -> int:
    """Daily: 7-day and 1-day renewal reminders, each sent once per period."""
    from server.domains.billing.notices import do_send_reminders

    return run(do_send_reminders())
