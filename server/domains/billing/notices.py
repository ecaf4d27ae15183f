"""Billing emails that must go out once each: dunning after a failed payment, renewal
reminders 7 days and 1 day before a renewal. A (kind, ref) row is claimed before sending and
released if the mail server refuses, so a retried task neither loses nor doubles a mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.billing.tables import MailNotice, Purchase
from server.domains.mail.render import build_message
from server.domains.mail.smtp import send
from server.domains.platforms.queries import Platform, branding

REMINDERS = ((7, "renewal-7d"), (1, "renewal-1d"))


def money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency.upper()}"


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


async def send_once(kind: str, ref: str, row: dict[str, Any], template: str, **ctx: Any) -> bool:
    if not await _claim(kind, ref, row["user_id"]):
        return False
    msg = build_message(template, row["email"], branding(Platform(row["platform"])), **ctx)
    try:
        send(msg)
    except Exception:
        await _release(kind, ref)
        raise
    return True


_PURCHASE = (
    "SELECT p.id, p.current_period_end, u.id AS user_id, u.email, u.platform, "
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
        amount=money(row["price_cents"], row["currency"]),
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
            sent += await send_once(
                kind,
                ref,
                row,
                "reminder",
                days=days,
                product=row["product"],
                amount=money(row["price_cents"], row["currency"]),
                renews_on=f"{row['current_period_end']:%Y-%m-%d}",
            )
    return sent
