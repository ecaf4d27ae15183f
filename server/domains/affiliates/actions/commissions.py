"""Commissions: one per paid invoice of an attributed customer, split in two locked parts,
clawed back on refunds and lost disputes, frozen while a dispute is open.

`do_sync_invoice` is convergent: it compares the invoice row with what the ledger already
holds for it and posts only the missing transactions, each keyed by its cause.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from db.uow import atomic
from server.domains.affiliates.actions import ledger
from server.domains.affiliates.actions.ledger import Leg, sql
from server.domains.affiliates.events import do_touch_affiliate
from server.domains.affiliates.schemas import AffiliateProfileRow, PurchaseAttribution


class LockProfile(msgspec.Struct, frozen=True):
    name: str
    main_days: int
    main_share: int  # percent of the commission in the main part
    ext_days: int


_BY_RISK = {
    "AT_RISK": LockProfile("AT_RISK", 60, 80, 90),
    "HIGH_RISK": LockProfile("HIGH_RISK", 90, 70, 120),
    "EXTREME_RISK": LockProfile("EXTREME_RISK", 90, 60, 180),
}
# (oldest age in days the profile covers, profile), youngest first.
_BY_AGE = [
    (30, LockProfile("AGE_0_30", 45, 80, 90)),
    (60, LockProfile("AGE_31_60", 40, 85, 60)),
    (90, LockProfile("AGE_61_90", 35, 90, 40)),
]
_OLDEST = LockProfile("AGE_91_PLUS", 30, 94, 40)


def lock_profile_for(risk_level: str, age_days: int) -> LockProfile:
    """A risk level other than NORMAL overrides the age-based profile."""
    if risk_level in _BY_RISK:
        return _BY_RISK[risk_level]
    for oldest, profile in _BY_AGE:
        if age_days <= oldest:
            return profile
    return _OLDEST


def commission_cents(paid_cents: int, percent: int) -> int:
    # Rounded down to the cent: the affiliate never gets a fraction the platform did not earn.
    return paid_cents * percent // 100


def split(amount_cents: int, main_share: int) -> tuple[int, int]:
    # The main part is rounded down; the extended part takes the remainder, so the two parts
    # always sum to the commission.
    main = amount_cents * main_share // 100
    return main, amount_cents - main


def refund_clawback_target(amount_cents: int, refunded_cents: int, paid_cents: int) -> int:
    # Proportional to the refunded share, rounded down (a full refund takes it all back).
    if paid_cents <= 0:
        return 0
    return amount_cents * min(refunded_cents, paid_cents) // paid_cents


class CommissionState(msgspec.Struct, frozen=True):
    """The bookkeeping columns of a commission row that a sync reads and moves on."""

    id: int
    affiliate: int
    invoice: int
    amount_cents: int
    main_locked_cents: int
    ext_locked_cents: int
    clawed_back_cents: int
    status: str
    paid_at: datetime | None
    main_matured_at: datetime | None


class InvoiceTotals(msgspec.Struct, frozen=True):
    """An invoice row with its plan's commission rate: what a sync compares the ledger with."""

    id: int
    purchase: int
    status: str
    amount_paid_cents: int
    amount_refunded_cents: int
    currency: str
    paid_at: datetime | None
    dispute_status: str | None
    commission_percent: int


def status_of(c: CommissionState) -> str:
    """A commission's state from its bookkeeping columns (FROZEN is kept until released)."""
    if c.clawed_back_cents >= c.amount_cents:
        return "CLAWED_BACK"
    if c.status == "FROZEN":
        return "FROZEN"
    if c.paid_at is not None:
        return "PAID"
    if c.main_locked_cents == 0 and c.ext_locked_cents == 0:
        return "MATURED"
    if c.main_locked_cents == 0 and c.main_matured_at is not None:
        return "PARTIALLY_MATURED"
    return "PENDING_LOCK"


class SyncResult(msgspec.Struct):
    invoice_id: int
    affiliate_id: int | None = None
    commission_id: int | None = None
    posted: list[str] = msgspec.field(default_factory=list)


# --- reading the invoice and its attribution ---------------------------------------------------


async def _invoice(invoice_id: int) -> InvoiceTotals | None:
    rows = await sql(
        "SELECT i.*, pl.commission_percent FROM invoices i JOIN purchases p ON p.id = i.purchase "
        "JOIN plans pl ON pl.id = p.plan WHERE i.id = {}",
        invoice_id,
    )
    return msgspec.convert(rows[0], InvoiceTotals) if rows else None


async def attribution(purchase_id: int) -> PurchaseAttribution | None:
    """The affiliate credited with a purchase (the tracking domain's table, read by contract)."""
    rows = await sql(
        "SELECT affiliate, source FROM purchase_attributions WHERE purchase = {}", purchase_id
    )
    return msgspec.convert(rows[0], PurchaseAttribution) if rows else None


async def _commission_for_update(invoice_id: int) -> CommissionState | None:
    rows = await sql("SELECT * FROM commissions WHERE invoice = {} FOR UPDATE", invoice_id)
    return msgspec.convert(rows[0], CommissionState) if rows else None


async def _save(c: CommissionState, **changes: Any) -> CommissionState:
    c = msgspec.structs.replace(c, **changes)
    c = msgspec.structs.replace(c, status=status_of(c))
    await sql(
        "UPDATE commissions SET main_locked_cents = {}, ext_locked_cents = {}, "
        "clawed_back_cents = {}, status = {}, updated_at = now() WHERE id = {}",
        c.main_locked_cents,
        c.ext_locked_cents,
        c.clawed_back_cents,
        c.status,
        c.id,
    )
    return c


# --- the steps of a sync (each posts at most one transaction, keyed by its cause) -----------


async def _create(
    inv: InvoiceTotals, profile: AffiliateProfileRow, source: str
) -> CommissionState | None:
    paid_at = inv.paid_at or datetime.now(UTC)
    first = profile.first_commission_at or paid_at
    lock = lock_profile_for(profile.risk_level, max(0, (paid_at - first).days))
    amount = commission_cents(inv.amount_paid_cents, inv.commission_percent)
    main, ext = split(amount, lock.main_share)
    rows = await sql(
        "INSERT INTO commissions (affiliate, invoice, purchase, from_free_product, base_cents, "
        "commission_percent, amount_cents, profile, main_cents, ext_cents, main_unlock_at, "
        "ext_unlock_at, main_locked_cents, ext_locked_cents, matured_cents, clawed_back_cents, "
        "status, created_at, updated_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
        "{}, {}, 0, 0, 'PENDING_LOCK', {}, now()) ON CONFLICT (invoice) DO NOTHING RETURNING *",
        profile.id,
        inv.id,
        inv.purchase,
        source == "free_product",
        inv.amount_paid_cents,
        inv.commission_percent,
        amount,
        lock.name,
        main,
        ext,
        paid_at + timedelta(days=lock.main_days),
        paid_at + timedelta(days=lock.ext_days),
        main,
        ext,
        paid_at,
    )
    if not rows:
        return None
    c = msgspec.convert(rows[0], CommissionState)
    await ledger.post(
        f"commission:{inv.id}",
        "commission",
        profile.id,
        [
            Leg(ledger.LOCKED, profile.id, amount),
            Leg(ledger.PLATFORM_COMMISSIONS, None, -amount),
        ],
        invoice_id=inv.id,
        commission_id=c.id,
        memo=lock.name,
    )
    if profile.first_commission_at is None:
        await sql(
            "UPDATE affiliate_profiles SET first_commission_at = {} WHERE id = {}",
            paid_at,
            profile.id,
        )
    return c


async def _claw_back(c: CommissionState, key: str, cents: int) -> CommissionState:
    """Take back `cents`: from this commission's unmatured parts (extended part first), then
    from the available balance; what is still missing becomes debt."""
    cents = min(cents, c.amount_cents - c.clawed_back_cents)
    if cents <= 0:
        return c
    aff = c.affiliate
    from_ext = min(cents, c.ext_locked_cents)
    from_main = min(cents - from_ext, c.main_locked_cents)
    rest = cents - from_ext - from_main
    available = (await ledger.account_balances(aff))[ledger.AVAILABLE]
    from_available = min(rest, available)
    holding = ledger.FROZEN if c.status == "FROZEN" else ledger.LOCKED
    tx = await ledger.post(
        key,
        "clawback",
        aff,
        [
            Leg(holding, aff, -(from_ext + from_main)),
            Leg(ledger.AVAILABLE, aff, -from_available),
            Leg(ledger.DEBT, aff, -(rest - from_available)),
            Leg(ledger.PLATFORM_COMMISSIONS, None, cents),
        ],
        invoice_id=c.invoice,
        commission_id=c.id,
    )
    if tx is None:
        return c
    return await _save(
        c,
        ext_locked_cents=c.ext_locked_cents - from_ext,
        main_locked_cents=c.main_locked_cents - from_main,
        clawed_back_cents=c.clawed_back_cents + cents,
    )


def _unmatured(c: CommissionState) -> int:
    return c.main_locked_cents + c.ext_locked_cents


async def _freeze(c: CommissionState) -> CommissionState:
    aff, held = c.affiliate, _unmatured(c)
    tx = await ledger.post(
        f"freeze:dispute:{c.invoice}",
        "freeze",
        aff,
        [Leg(ledger.LOCKED, aff, -held), Leg(ledger.FROZEN, aff, held)],
        invoice_id=c.invoice,
        commission_id=c.id,
    )
    return c if tx is None else await _save(c, status="FROZEN")


async def _release(c: CommissionState) -> CommissionState:
    aff, held = c.affiliate, _unmatured(c)
    tx = await ledger.post(
        f"release:dispute:{c.invoice}",
        "release",
        aff,
        [Leg(ledger.FROZEN, aff, -held), Leg(ledger.LOCKED, aff, held)],
        invoice_id=c.invoice,
        commission_id=c.id,
    )
    return c if tx is None else await _save(c, status="PENDING_LOCK")


async def _apply_invoice_state(
    c: CommissionState, inv: InvoiceTotals
) -> tuple[CommissionState, list[str]]:
    done: list[str] = []
    target = refund_clawback_target(
        c.amount_cents, inv.amount_refunded_cents, inv.amount_paid_cents
    )
    if target > c.clawed_back_cents:
        before = c.clawed_back_cents
        c = await _claw_back(
            c, f"clawback:{inv.id}:refund:{inv.amount_refunded_cents}", target - before
        )
        if c.clawed_back_cents != before:
            done.append("clawback")
    dispute = inv.dispute_status
    keys = await ledger.posted([f"freeze:dispute:{inv.id}", f"release:dispute:{inv.id}"])
    if dispute == "open" and c.status != "CLAWED_BACK" and not keys:
        c = await _freeze(c)
        done.append("freeze")
    if dispute == "won" and c.status == "FROZEN":
        c = await _release(c)
        done.append("release")
    if dispute == "lost" and c.status != "CLAWED_BACK":
        c = await _claw_back(c, f"clawback:{inv.id}:dispute", c.amount_cents - c.clawed_back_cents)
        done.append("clawback")
    return c, done


async def do_sync_invoice(invoice_id: int) -> SyncResult:
    """Bring the ledger in line with one invoice: commission, refund and dispute effects."""
    result = SyncResult(invoice_id=invoice_id)
    inv = await _invoice(invoice_id)
    if inv is None:
        return result
    attr = await attribution(inv.purchase)
    if attr is None:
        return result
    result.affiliate_id = attr.affiliate
    async with atomic():
        profile = await ledger.lock_profile(attr.affiliate)
        inv = await _invoice(invoice_id)  # re-read under the lock: the latest totals win
        assert profile is not None and inv is not None
        c = await _commission_for_update(invoice_id)
        if (
            c is None
            and inv.status == "paid"
            and inv.amount_paid_cents > 0
            and inv.currency == ledger.CURRENCY
        ):
            c = await _create(inv, profile, attr.source)
            if c is not None:
                result.posted.append("commission")
        if c is None:
            return result
        result.commission_id = c.id
        c, done = await _apply_invoice_state(c, inv)
        result.posted += done
        if result.posted:
            await do_touch_affiliate(profile.id, profile.user, result.posted[-1])
    return result


# Invoices whose ledger effects are missing: a commission never made (the attribution landed
# after the invoice's sync ran), a refund or a dispute outcome not yet reflected. The refund
# test is the same rounded-down proportion as refund_clawback_target.
_DRIFTED = """
SELECT i.id FROM invoices i
  JOIN purchase_attributions pa ON pa.purchase = i.purchase
  LEFT JOIN commissions c ON c.invoice = i.id
 WHERE (c.id IS NULL AND i.status = 'paid' AND i.amount_paid_cents > 0 AND i.currency = {})
    OR (c.id IS NOT NULL AND i.amount_paid_cents > 0 AND c.clawed_back_cents <
        c.amount_cents * LEAST(i.amount_refunded_cents, i.amount_paid_cents) / i.amount_paid_cents)
    OR (i.dispute_status = 'won' AND c.status = 'FROZEN')
    OR (i.dispute_status = 'lost' AND c.status <> 'CLAWED_BACK')
    OR (i.dispute_status = 'open' AND c.status NOT IN ('FROZEN', 'CLAWED_BACK')
        AND NOT EXISTS (SELECT 1 FROM ledger_transactions t
                         WHERE t.idempotency_key = 'freeze:dispute:' || i.id))
 ORDER BY i.id LIMIT {}
"""


async def do_catch_up(limit: int = 1000) -> int:
    """Sync every invoice whose ledger effects are missing (a safety net behind the per-change
    tasks; each sync is idempotent, so overlapping with them is harmless)."""
    rows = await sql(_DRIFTED, ledger.CURRENCY, limit)
    for row in rows:
        await do_sync_invoice(row["id"])
    return len(rows)


async def do_sync_purchase(purchase_id: int) -> int:
    """Sync every invoice of a purchase (called once its attribution is known)."""
    rows = await sql("SELECT id FROM invoices WHERE purchase = {} ORDER BY id", purchase_id)
    for row in rows:
        await do_sync_invoice(row["id"])
    return len(rows)
