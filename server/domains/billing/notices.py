"""Billing emails that must go out exactly once each: a receipt per paid invoice, dunning after a
failed payment, renewal reminders 7 days and 1 day before a renewal. Every mail is in its
recipient's language (users.locale, else the platform's), with amounts and dates formatted by
Babel for that language.

Exactly once, even when the worker is killed at any point: the mail is claimed by inserting
its (kind, key) into mail_notices (UNIQUE) inside a transaction that stays open until the SMTP
server has accepted the message. A worker killed before that acceptance leaves nothing
committed, so the redelivered task (acks_late) claims and sends it again; a concurrent task
waits on the uncommitted row and then finds it taken. A permanent refusal (5xx) commits the
claim as refused, so it is never retried; a temporary failure rolls it back for the retry.
Only a kill between the acceptance and the commit can send twice, and each mail carries a
Message-ID stable per (kind, key), so the receiving side can drop that copy.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec

from db.billing.tables import Invoice, MailNotice, Purchase
from db.uow import atomic
from server.domains.billing.receipts import receipt_number, receipt_path
from server.domains.mail.actions import do_record_refusal
from server.domains.mail.render import build_message, recipient_locale, stable_message_id
from server.domains.mail.smtp import MailRefused, send
from server.domains.platforms.queries import Platform, branding
from server.i18n import format_date, format_money

REMINDERS = ((7, "renewal-7d"), (1, "renewal-1d"))


class PurchaseMail(msgspec.Struct):
    """What a dunning mail or a reminder shows, and to whom."""

    id: int
    current_period_end: datetime | None
    user_id: int
    email: str
    platform: str
    locale: str | None
    product: str
    price_cents: int
    currency: str


class ReceiptMail(msgspec.Struct):
    """What a receipt shows, and to whom."""

    id: int
    purchase: int
    stripe_invoice_id: str
    amount_paid_cents: int
    currency: str
    paid_at: datetime | None
    user_id: int
    email: str
    platform: str
    locale: str | None
    product: str
    plan: str


async def _claim(kind: str, key: str, user_id: int) -> bool:
    # Inside the open transaction: a concurrent claim of the same (kind, key) waits on this
    # uncommitted row, then does nothing once it commits (or claims it if it rolls back).
    rows = await MailNotice.raw(
        'INSERT INTO mail_notices (kind, ref, "user", sent_at, status, detail) '
        "VALUES ({}, {}, {}, now(), 'sent', '') ON CONFLICT (kind, ref) DO NOTHING RETURNING id",
        kind,
        key,
        user_id,
    )
    return bool(rows)


async def _settle_refused(kind: str, key: str, refusal: MailRefused) -> None:
    await MailNotice.raw(
        "UPDATE mail_notices SET status = 'refused', detail = {} WHERE kind = {} AND ref = {}",
        f"{refusal.code} {refusal.reason}"[:2000],
        kind,
        key,
    )
    await do_record_refusal(kind, key, refusal)


def _locale(locale: str | None, platform: str) -> str:
    return recipient_locale(locale, platform)


async def _send_claimed(
    kind: str, key: str, to: str, platform: str, locale: str, template: str, **ctx: object
) -> bool:
    """Inside the claim's transaction: True once accepted; False when refused for good (the
    refusal is recorded and commits with the claim). Any other failure raises, rolling the
    claim back for the task's retry."""
    brand = branding(Platform(platform))
    msg = build_message(
        template, to, brand, locale=locale, message_id=stable_message_id(kind, key), **ctx
    )
    try:
        # In a thread: the event loop keeps serving the pool (and its transaction) meanwhile.
        await asyncio.to_thread(send, msg)
    except MailRefused as refusal:
        await _settle_refused(kind, key, refusal)
        return False
    return True


async def send_once(kind: str, key: str, row: PurchaseMail, template: str, **ctx: object) -> bool:
    """Claim (kind, key) and send, committing the claim only once the mail is accepted."""
    async with atomic():
        if not await _claim(kind, key, row.user_id):
            return False
        locale = _locale(row.locale, row.platform)
        return await _send_claimed(kind, key, row.email, row.platform, locale, template, **ctx)


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
    row = msgspec.convert(rows[0], PurchaseMail)
    return await send_once(
        "dunning",
        stripe_invoice_id,
        row,
        "dunning",
        product=row.product,
        amount=format_money(row.price_cents, row.currency, _locale(row.locale, row.platform)),
    )


async def do_send_reminders(now: datetime | None = None) -> int:
    """Subscriptions renewing within 7 days / 1 day get their reminder, once per period."""
    now = now or datetime.now(UTC)
    sent = 0
    failed: Exception | None = None
    for days, kind in REMINDERS:
        rows = await Purchase.raw(
            _PURCHASE + "WHERE p.status IN ('ACTIVE', 'TRIAL') AND NOT p.cancel_at_period_end "
            "AND p.current_period_end > {} AND p.current_period_end <= {}",
            now,
            now + timedelta(days=days),
        )
        for raw in rows:
            row = msgspec.convert(raw, PurchaseMail)
            if row.current_period_end is None:  # excluded by the WHERE clause; for the type
                continue
            key = f"{row.id}:{row.current_period_end:%Y-%m-%dT%H:%M:%S}"
            locale = _locale(row.locale, row.platform)
            try:
                sent += await send_once(
                    kind,
                    key,
                    row,
                    "reminder",
                    days=days,
                    product=row.product,
                    amount=format_money(row.price_cents, row.currency, locale),
                    renews_on=format_date(row.current_period_end, "long", locale),
                )
            except Exception as exc:  # one address failing for now must not hold the others
                failed = failed or exc
    if failed is not None:
        raise failed  # the task's retry sends what is left; what went out is claimed
    return sent


# Taken in the claim's transaction: receipt_sent_at (NULL -> now) locks the invoice row until
# the mail is accepted, so a concurrent task waits and then finds it set.
_CLAIM_RECEIPT = (
    "UPDATE invoices i SET receipt_sent_at = now() FROM purchases p, users u, products pr, "
    "plans pl WHERE i.id = {} AND i.receipt_sent_at IS NULL AND i.status = 'paid' "
    'AND p.id = i.purchase AND u.id = p."user" AND pr.id = p.product AND pl.id = p.plan '
    "RETURNING i.id, i.purchase, i.stripe_invoice_id, i.amount_paid_cents, i.currency, "
    "i.paid_at, u.id AS user_id, u.email, u.platform, u.locale, pr.name AS product, "
    "pl.name AS plan"
)


async def do_send_receipt(invoice_id: int) -> bool:
    """One receipt per paid invoice (first payment and every renewal)."""
    key = str(invoice_id)
    async with atomic():
        rows = await Invoice.raw(_CLAIM_RECEIPT, invoice_id)
        if not rows:
            return False
        r = msgspec.convert(rows[0], ReceiptMail)
        if not await _claim("receipt", key, r.user_id):
            return False  # recorded as sent already: receipt_sent_at is set with it
        locale = _locale(r.locale, r.platform)
        brand = branding(Platform(r.platform))
        return await _send_claimed(
            "receipt",
            key,
            r.email,
            r.platform,
            locale,
            "receipt",
            amount=format_money(r.amount_paid_cents, r.currency, locale),
            product=r.product,
            plan=r.plan,
            invoice=r.stripe_invoice_id,
            paid_at=format_date(r.paid_at, "long", locale) if r.paid_at else "",
            number=receipt_number(r.platform, r.id),
            receipt_url=brand.base_url + receipt_path(r.purchase, r.id),
        )
