"""Billing emails that must go out once each: a receipt per paid invoice, dunning after a
failed payment, renewal reminders 7 days and 1 day before a renewal. Each is claimed in the
database before sending and released if the mail server refuses, so a retried task neither
loses nor doubles a mail. Every mail is in its recipient's language (users.locale, else the
platform's), with amounts and dates formatted by Babel for that language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.billing.tables import Invoice, MailNotice, Purchase
from server.domains.billing.receipts import receipt_number, receipt_path
from server.domains.mail.render import build_message, recipient_locale
from server.domains.mail.smtp import send
from server.domains.platforms.queries import Platform, branding
from server.i18n import format_date, format_money

REMINDERS = ((7, "renewal-7d"), (1, "renewal-1d"))


async def _claim(kind: str, ref: str, user_id: int) -> bool:
    rows = await MailNotice.raw(
        'INSERT INTO mail_notices (kind, ref, "user", sent_at) VALUES ({}, {}, {}, now()) '
        "ON CONFLICT (kind, ref) DO NOTHING RETURNING id",
        kind,
        ref,
        user_id,
    )
    return bool(rows)


async def _release(kind: str, ref: str) -> None:
    await MailNotice.raw("DELETE FROM mail_notices WHERE kind = {} AND ref = {}", kind, ref)


def _locale(row: dict[str, Any]) -> str:
    return recipient_locale(row.get("locale"), row["platform"])


async def send_once(kind: str, ref: str, row: dict[str, Any], template: str, **ctx: Any) -> bool:
    if not await _claim(kind, ref, row["user_id"]):
        return False
    brand = branding(Platform(row["platform"]))
    msg = build_message(template, row["email"], brand, locale=_locale(row), **ctx)
    try:
        send(msg)
    except Exception:
        await _release(kind, ref)
        raise
    return True


_PURCHASE = (
    "SELECT p.id, p.current_period_end, u.id AS user_id, u.email, u.platform, u.locale, "
    "pr.name AS product, pl.price_cents, pl.currency FROM purchases p "
    'JOIN users u ON u.id = p."user" JOIN products pr ON pr.id = p.product '
    "JOIN plans pl ON pl.id = p.plan "
)


async def do_send_dunning(stripe_invoice_id: str, subscription_id: str) -> bool:
    rows = await Purchase.raw(_PURCHASE + "WHERE p.stripe_subscription_id = {}", subscription_id)
    if not rows:
        return False
    row = rows[0]
    return await send_once(
        "dunning",
        stripe_invoice_id,
        row,
        "dunning",
        product=row["product"],
        amount=format_money(row["price_cents"], row["currency"], _locale(row)),
    )


async def do_send_reminders(now: datetime | None = None) -> int:
    """Subscriptions renewing within 7 days / 1 day get their reminder, once per period."""
    now = now or datetime.now(UTC)
    sent = 0
    for days, kind in REMINDERS:
        rows = await Purchase.raw(
            _PURCHASE + "WHERE p.status IN ('ACTIVE', 'TRIAL') AND NOT p.cancel_at_period_end "
            "AND p.current_period_end > {} AND p.current_period_end <= {}",
            now,
            now + timedelta(days=days),
        )
        for row in rows:
            ref = f"{row['id']}:{row['current_period_end']:%Y-%m-%dT%H:%M:%S}"
            locale = _locale(row)
            sent += await send_once(
                kind,
                ref,
                row,
                "reminder",
                days=days,
                product=row["product"],
                amount=format_money(row["price_cents"], row["currency"], locale),
                renews_on=format_date(row["current_period_end"], "long", locale),
            )
    return sent


# The receipt row is claimed by setting receipt_sent_at (NULL -> now) in the same statement
# that reads what the mail shows: a redelivered or concurrent task finds it taken and stops.
_CLAIM_RECEIPT = (
    "UPDATE invoices i SET receipt_sent_at = now() FROM purchases p, users u, products pr, "
    "plans pl WHERE i.id = {} AND i.receipt_sent_at IS NULL AND i.status = 'paid' "
    'AND p.id = i.purchase AND u.id = p."user" AND pr.id = p.product AND pl.id = p.plan '
    "RETURNING i.id, i.purchase, i.stripe_invoice_id, i.amount_paid_cents, i.currency, "
    "i.paid_at, u.email, u.platform, u.locale, pr.name AS product, pl.name AS plan"
)


async def do_send_receipt(invoice_id: int) -> bool:
    """One receipt per paid invoice (first payment and every renewal)."""
    rows = await Invoice.raw(_CLAIM_RECEIPT, invoice_id)
    if not rows:
        return False
    r = rows[0]
    locale = _locale(r)
    brand = branding(Platform(r["platform"]))
    msg = build_message(
        "receipt",
        r["email"],
        brand,
        locale=locale,
        amount=format_money(r["amount_paid_cents"], r["currency"], locale),
        product=r["product"],
        plan=r["plan"],
        invoice=r["stripe_invoice_id"],
        paid_at=format_date(r["paid_at"], "long", locale) if r["paid_at"] else "",
        number=receipt_number(r["platform"], r["id"]),
        receipt_url=brand.base_url + receipt_path(r["purchase"], r["id"]),
    )
    try:
        send(msg)
    except Exception:
        await Invoice.raw("UPDATE invoices SET receipt_sent_at = NULL WHERE id = {}", invoice_id)
        raise
    return True
