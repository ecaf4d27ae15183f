"""Affiliate money reads: balances, the ledger with running balances, payable affiliates,
withdrawals; and the access_* helpers."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from db.affiliates.tables import LedgerEntry
from server.domains.affiliates.schemas import (
    AVAILABLE,
    DEBT,
    FROZEN,
    LOCKED,
    PAID_OUT,
    AffiliateProfileRow,
    Balances,
    EntryType,
    LedgerLine,
    LedgerPage,
    PayableAffiliate,
    PayoutMethod,
    PayoutRecord,
    RiskChangeRead,
    RiskLevel,
    RiskRead,
    WithdrawalRead,
    account_sums,
    profile_row,
)
from server.domains.auth.schemas import CurrentUser
from server.errors import NotFound


async def sql(query: str, *args: Any) -> list[dict[str, Any]]:
    """Raw SQL on the current transaction's connection (Piccolo `{}` placeholders)."""
    return await LedgerEntry.raw(query, *args)


async def account_balances(affiliate_id: int) -> dict[str, int]:
    """Every account of one affiliate, summed from its entries (missing accounts are 0)."""
    rows = await sql(
        "SELECT account, COALESCE(sum(amount_cents), 0)::bigint AS total "
        "FROM ledger_entries WHERE affiliate = {} GROUP BY account",
        affiliate_id,
    )
    return account_sums({r["account"]: r["total"] for r in rows})


def balances_from(sums: dict[str, int], next_unlock_at: datetime | None) -> Balances:
    return Balances(
        locked=sums[LOCKED],
        frozen=sums[FROZEN],
        available=sums[AVAILABLE],
        paid_out=sums[PAID_OUT],
        debt=-sums[DEBT],
        next_unlock_at=next_unlock_at,
    )


async def next_unlock_at(affiliate_id: int) -> datetime | None:
    rows = await sql(
        "SELECT min(LEAST(CASE WHEN main_locked_cents > 0 THEN main_unlock_at END, "
        "CASE WHEN ext_locked_cents > 0 THEN ext_unlock_at END)) AS at FROM commissions "
        "WHERE affiliate = {} AND status <> 'FROZEN'",
        affiliate_id,
    )
    return rows[0]["at"]


async def balances(affiliate_id: int) -> Balances:
    """What the affiliate has locked, frozen, available, paid out and owes (from entries)."""
    return balances_from(await account_balances(affiliate_id), await next_unlock_at(affiliate_id))


async def access_own_profile(user: CurrentUser) -> AffiliateProfileRow:
    """The caller's affiliate profile (the dashboard, ledger and withdrawal endpoints)."""
    rows = await sql('SELECT * FROM affiliate_profiles WHERE "user" = {}', user.id)
    if not rows or user.platform != "weokto":
        raise NotFound("You have no affiliate profile", code="not_an_affiliate")
    return profile_row(rows[0])


async def access_affiliate(owner: CurrentUser, affiliate_id: int) -> AffiliateProfileRow:
    """An affiliate of the owner's platform (affiliates exist on WEOKTO only)."""
    rows = await sql(
        'SELECT p.* FROM affiliate_profiles p JOIN users u ON u.id = p."user" '
        "WHERE p.id = {} AND u.platform = {}",
        affiliate_id,
        owner.platform,
    )
    if not rows:
        raise NotFound(
            "No such affiliate", code="affiliate_not_found", details={"field": "affiliate_id"}
        )
    return profile_row(rows[0])


# Entries of one affiliate with each account's balance after the entry (a window over all
# the affiliate's entries, computed before the type filter and the cursor cut the page).
_LINES = """
SELECT * FROM (
  SELECT e.id, e.transaction AS transaction_id, t.kind AS type, e.account, e.amount_cents,
         sum(e.amount_cents) OVER (PARTITION BY e.account ORDER BY e.id) AS balance_after_cents,
         t.commission AS commission_id, t.invoice AS invoice_id, t.payout AS payout_id, t.memo,
         e.created_at
    FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction
   WHERE e.affiliate = {}) lines
 WHERE ({}::text IS NULL OR type = {}) AND ({}::int IS NULL OR id < {})
 ORDER BY id DESC LIMIT {}
"""


def _line(r: dict[str, Any]) -> LedgerLine:
    return LedgerLine(
        id=r["id"],
        transaction_id=r["transaction_id"],
        type=EntryType(r["type"]),
        account=r["account"],
        amount_cents=int(r["amount_cents"]),
        balance_after_cents=int(r["balance_after_cents"]),
        commission_id=r["commission_id"],
        invoice_id=r["invoice_id"],
        payout_id=r["payout_id"],
        memo=r["memo"],
        created_at=r["created_at"],
    )


async def ledger_lines(
    affiliate_id: int, kind: EntryType | None, cursor: int | None, limit: int
) -> list[LedgerLine]:
    k = kind.value if kind else None
    rows = await sql(_LINES, affiliate_id, k, k, cursor, cursor, limit)
    return [_line(r) for r in rows]


async def ledger_page(
    affiliate_id: int, kind: EntryType | None, cursor: int | None, limit: int
) -> LedgerPage:
    """Newest entries first; `next_cursor` continues with older ones."""
    lines = await ledger_lines(affiliate_id, kind, cursor, limit + 1)
    more = len(lines) > limit
    lines = lines[:limit]
    return LedgerPage(
        affiliate_id=affiliate_id,
        balances=await balances(affiliate_id),
        entries=lines,
        next_cursor=lines[-1].id if more and lines else None,
    )


CSV_COLUMNS = (
    "entry_id",
    "transaction_id",
    "created_at",
    "type",
    "account",
    "amount_cents",
    "balance_after_cents",
    "commission_id",
    "invoice_id",
    "payout_id",
    "memo",
)


async def ledger_csv(affiliate_id: int) -> str:
    """The whole ledger of an affiliate, oldest first, one row per entry."""
    lines = await ledger_lines(affiliate_id, None, None, 2**31 - 1)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for x in reversed(lines):
        writer.writerow(
            [
                x.id,
                x.transaction_id,
                x.created_at.isoformat(),
                x.type.value,
                x.account,
                x.amount_cents,
                x.balance_after_cents,
                x.commission_id or "",
                x.invoice_id or "",
                x.payout_id or "",
                x.memo,
            ]
        )
    return out.getvalue()


async def payable_affiliates(owner: CurrentUser) -> list[PayableAffiliate]:
    """Affiliates of the owner's platform with money available, largest first."""
    rows = await sql(
        'SELECT p.id, p."user", p.slug, p.risk_level, u.email, b.available, '
        "(SELECT amount_cents FROM affiliate_withdrawals w WHERE w.affiliate = p.id "
        " AND w.status = 'pending') AS pending "
        "FROM (SELECT affiliate, sum(amount_cents) AS available FROM ledger_entries "
        "      WHERE account = 'available' GROUP BY affiliate) b "
        'JOIN affiliate_profiles p ON p.id = b.affiliate JOIN users u ON u.id = p."user" '
        "WHERE b.available > 0 AND u.platform = {} ORDER BY b.available DESC, p.id",
        owner.platform,
    )
    return [
        PayableAffiliate(
            affiliate_id=r["id"],
            user_id=r["user"],
            email=r["email"],
            slug=r["slug"],
            risk_level=RiskLevel(r["risk_level"]),
            balances=await balances(r["id"]),
            pending_withdrawal_cents=r["pending"],
        )
        for r in rows
    ]


def payout_record(r: dict[str, Any]) -> PayoutRecord:
    return PayoutRecord(
        id=r["id"],
        affiliate_id=r["affiliate"],
        amount_cents=r["amount_cents"],
        method=PayoutMethod(r["method"]),
        reference=r["reference"],
        notes=r["notes"],
        recorded_by=r["recorded_by"],
        created_at=r["created_at"],
    )


def withdrawal_read(r: dict[str, Any]) -> WithdrawalRead:
    return WithdrawalRead(
        id=r["id"],
        affiliate_id=r["affiliate"],
        amount_cents=r["amount_cents"],
        method=PayoutMethod(r["method"]),
        details=r["details"],
        status=r["status"],
        payout_id=r["payout"],
        decision_note=r["decision_note"],
        decided_at=r["decided_at"],
        created_at=r["created_at"],
    )


async def withdrawal(withdrawal_id: int) -> WithdrawalRead:
    rows = await sql("SELECT * FROM affiliate_withdrawals WHERE id = {}", withdrawal_id)
    return withdrawal_read(rows[0])


async def list_withdrawals(
    platform: str, affiliate_id: int | None, status: str | None
) -> list[WithdrawalRead]:
    rows = await sql(
        "SELECT w.* FROM affiliate_withdrawals w JOIN affiliate_profiles p ON p.id = w.affiliate "
        'JOIN users u ON u.id = p."user" WHERE u.platform = {} '
        "AND ({}::int IS NULL OR w.affiliate = {}) AND ({}::text IS NULL OR w.status = {}) "
        "ORDER BY w.id DESC LIMIT 500",
        platform,
        affiliate_id,
        affiliate_id,
        status,
        status,
    )
    return [withdrawal_read(r) for r in rows]


async def access_withdrawal(owner: CurrentUser, withdrawal_id: int) -> WithdrawalRead:
    """A withdrawal request of an affiliate of the owner's platform."""
    rows = await sql(
        "SELECT w.* FROM affiliate_withdrawals w JOIN affiliate_profiles p ON p.id = w.affiliate "
        'JOIN users u ON u.id = p."user" WHERE w.id = {} AND u.platform = {}',
        withdrawal_id,
        owner.platform,
    )
    if not rows:
        raise NotFound("No such withdrawal request", code="withdrawal_not_found")
    return withdrawal_read(rows[0])


async def risk_read(affiliate_id: int) -> RiskRead:
    profile = (await sql("SELECT * FROM affiliate_profiles WHERE id = {}", affiliate_id))[0]
    history = await sql(
        "SELECT * FROM affiliate_risk_changes WHERE affiliate = {} ORDER BY id DESC", affiliate_id
    )
    return RiskRead(
        affiliate_id=affiliate_id,
        risk_level=RiskLevel(profile["risk_level"]),
        risk_notes=profile["risk_notes"],
        history=[
            RiskChangeRead(
                old_level=RiskLevel(h["old_level"]),
                new_level=RiskLevel(h["new_level"]),
                notes=h["notes"],
                changed_by=h["changed_by"],
                created_at=h["created_at"],
            )
            for h in history
        ],
    )
