"""Purchases follow Stripe: every subscription event re-reads the subscription and applies it.

Re-reading the current object (instead of trusting the event's snapshot) makes the order and
the repetition of webhooks irrelevant: whatever arrives, the row ends as Stripe is now.
Access to the community is decided here, and only here, from the purchase status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from db.billing.tables import Invoice, Plan, Purchase
from db.guilds.tables import GuildMember
from db.uow import atomic
from server.domains.billing.events import PaymentSucceeded, notify_payment_succeeded
from server.domains.billing.queries import access_rows
from server.domains.guilds.actions import do_paid_access_lost
from server.domains.guilds.events import AccessReason
from server.domains.paid_access import GRACE, GRANTED_SQL, decide_access, grants_access
from server.domains.tracking.actions import do_attribute_purchase
from server.domains.tracking.schemas import CheckoutReferral
from server.integrations.stripe import client

STATUS = {
    "trialing": "TRIAL",
    "active": "ACTIVE",
    "past_due": "PAST_DUE",
    "unpaid": "PAST_DUE",
    "incomplete": "PAST_DUE",
    "canceled": "EXPIRED",
    "incomplete_expired": "EXPIRED",
    "paused": "EXPIRED",
}


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def _period_end(sub: Any) -> datetime | None:
    items = sub.get("items", {}).get("data", [])
    end = items[0].get("current_period_end") if items else None
    return _ts(end or sub.get("current_period_end"))


def status_of(sub: Any) -> str:
    status = STATUS.get(sub["status"], "EXPIRED")
    if status == "ACTIVE" and sub.get("cancel_at_period_end"):
        return "CANCELLED"  # paid up to the period end, then it stops
    return status


async def do_sync_subscription(subscription_id: str, session_id: str | None = None) -> int | None:
    """Upsert the purchase of a Stripe subscription from its current state; returns its id."""
    sub = (await client().v1.subscriptions.retrieve_async(subscription_id)).to_dict()
    meta = sub.get("metadata") or {}
    if "plan_id" not in meta or "user_id" not in meta:
        return None  # not one of ours (another integration on the same account)
    purchase_id = await _upsert(
        int(meta["user_id"]),
        int(meta["plan_id"]),
        status_of(sub),
        _period_end(sub),
        bool(sub.get("cancel_at_period_end")),
        subscription_id=subscription_id,
        session_id=session_id,
    )
    await do_attribute_purchase(
        purchase_id, CheckoutReferral.from_metadata(meta)
    )  # the affiliate fixed at checkout, if any
    return purchase_id


async def do_sync_payment_session(session_id: str) -> int | None:
    """A one-time purchase: granted once Stripe says the session is paid."""
    session = (await client().v1.checkout.sessions.retrieve_async(session_id)).to_dict()
    meta = session.get("metadata") or {}
    if session.get("mode") != "payment" or "plan_id" not in meta:
        return None
    if session.get("payment_status") != "paid":
        return None  # delayed payment methods: wait for async_payment_succeeded
    status = await _payment_status(session.get("payment_intent"))
    purchase_id = await _upsert(
        int(meta["user_id"]),
        int(meta["plan_id"]),
        status,
        None,
        False,
        subscription_id=None,
        session_id=session_id,
    )
    await do_attribute_purchase(purchase_id, CheckoutReferral.from_metadata(meta))
    return purchase_id


async def _payment_status(pi_id: str | None) -> str:
    """A one-time purchase lasts until its payment is fully refunded or its dispute lost."""
    if not pi_id:
        return "ACTIVE"
    charges = await client().v1.charges.list_async(params={"payment_intent": pi_id, "limit": 10})
    for charge in (c.to_dict() for c in charges.data):
        if charge.get("paid") and charge.get("refunded"):
            return "EXPIRED"
        if charge.get("disputed"):
            disputes = await client().v1.disputes.list_async(
                params={"charge": charge["id"], "limit": 10}
            )
            if any(d.status == "lost" for d in disputes.data):
                return "EXPIRED"
    return "ACTIVE"


async def _upsert(
    user_id: int,
    plan_id: int,
    status: str,
    period_end: datetime | None,
    cancel_at_end: bool,
    *,
    subscription_id: str | None,
    session_id: str | None,
) -> int:
    plan = (
        await Plan.select(Plan.id, Plan.product, Plan.product.guild.as_alias("guild"))
        .where(Plan.id == plan_id)
        .first()
    )
    if plan is None:  # the metadata names a plan this database does not have: fail the event
        raise LookupError(f"no plan {plan_id} for this purchase")
    key_col = "stripe_subscription_id" if subscription_id else "stripe_checkout_session_id"
    async with atomic():
        rows = await Purchase.raw(
            f'INSERT INTO purchases ("user", product, plan, guild, stripe_checkout_session_id, '
            f"stripe_subscription_id, status, current_period_end, cancel_at_period_end, "
            f"past_due_since, created_at, updated_at) VALUES ({{}}, {{}}, {{}}, {{}}, {{}}, {{}}, "
            f"{{}}, {{}}, {{}}, CASE WHEN {{}} = 'PAST_DUE' THEN now() END, now(), now()) "
            f"ON CONFLICT ({key_col}) DO UPDATE SET status = EXCLUDED.status, "
            # The grace runs from the first failure seen; a later repeat of it keeps that time.
            f"past_due_since = CASE WHEN EXCLUDED.status = 'PAST_DUE' THEN COALESCE("
            f"purchases.past_due_since, EXCLUDED.past_due_since) END, "
            f"current_period_end = EXCLUDED.current_period_end, cancel_at_period_end = "
            f"EXCLUDED.cancel_at_period_end, stripe_checkout_session_id = COALESCE("
            f"purchases.stripe_checkout_session_id, EXCLUDED.stripe_checkout_session_id), "
            f"updated_at = now() RETURNING id, (xmax = 0) AS inserted, status",
            user_id,
            plan["product"],
            plan_id,
            plan["guild"],
            session_id,
            subscription_id,
            status,
            period_end,
            cancel_at_end,
            status,
        )
        purchase = rows[0]
        await _apply_access(user_id, plan["guild"], purchase["id"])
        if purchase["inserted"] and grants_access(status):
            notify_payment_succeeded(
                user_id,
                PaymentSucceeded(
                    purchase_id=purchase["id"],
                    plan_id=plan_id,
                    product_id=plan["product"],
                    guild_id=plan["guild"],
                    status=status,
                    checkout_session_id=session_id,
                ),
            )
    return purchase["id"]


async def _apply_access(user_id: int, guild_id: int | None, purchase_id: int) -> None:
    """Paid access to a guild while any purchase of the user for it grants access."""
    if guild_id is None:
        return
    if decide_access(await access_rows(user_id, guild_id=guild_id)).has_access:
        await GuildMember.raw(
            'INSERT INTO guild_members (guild, "user", role, joined_at, paid_access) '
            "VALUES ({}, {}, 'member', now(), true) ON CONFLICT (guild, \"user\") "
            "DO UPDATE SET paid_access = true",
            guild_id,
            user_id,
        )
        return
    lost = (
        await GuildMember.update({GuildMember.paid_access: False})
        .where(
            (GuildMember.guild == guild_id)
            & (GuildMember.user == user_id)
            & (GuildMember.paid_access == True)  # noqa: E712
        )
        .returning(GuildMember.id)
    )
    if lost:  # it had access until this commit: its live sockets lose the paid channels
        await do_paid_access_lost(user_id, guild_id, await _loss_reason(purchase_id))


async def _loss_reason(purchase_id: int) -> AccessReason:
    """Why a purchase stopped granting, as the buyer is told. Our refund and dispute flows
    record their side before the cancellation they cause comes back from Stripe."""
    rows = await Invoice.raw(
        "SELECT bool_or(i.dispute_status = 'lost') AS lost, bool_or(i.amount_refunded_cents > 0 "
        "OR EXISTS (SELECT 1 FROM refund_requests r WHERE r.invoice = i.id "
        "AND r.status IN ('approving', 'approved'))) AS refunded "
        "FROM invoices i WHERE i.purchase = {}",
        purchase_id,
    )
    if rows and rows[0]["lost"]:
        return "dispute_lost"
    if rows and rows[0]["refunded"]:
        return "refunded"
    return "subscription_ended"


async def do_end_lapsed_grace(now: datetime | None = None) -> int:
    """Hourly: end the paid access of purchases PAST_DUE for longer than the grace, unless
    another purchase of the same guild still grants it. A second run finds nothing to do."""
    now = now or datetime.now(UTC)
    cutoff = now - GRACE
    async with atomic():
        rows = await GuildMember.raw(
            'WITH lapsed AS (SELECT DISTINCT p."user", p.guild FROM purchases p '
            "WHERE p.status = 'PAST_DUE' AND p.guild IS NOT NULL AND p.past_due_since <= {}) "
            "UPDATE guild_members gm SET paid_access = false FROM lapsed l "
            'WHERE gm.guild = l.guild AND gm."user" = l."user" AND gm.paid_access '
            'AND NOT EXISTS (SELECT 1 FROM purchases q WHERE q."user" = l."user" '
            "AND q.guild = l.guild AND " + GRANTED_SQL + ") "
            'RETURNING gm.guild, gm."user"',
            cutoff,
            cutoff,
            now,
        )
        for row in rows:
            await do_paid_access_lost(row["user"], row["guild"], "payment_grace_ended")
    return len(rows)
