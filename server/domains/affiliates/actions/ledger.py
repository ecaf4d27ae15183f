"""The double-entry ledger: post a balanced transaction once per cause, read balances from entries."""

from __future__ import annotations

import msgspec

from server.domains.affiliates.queries import account_balances, sql
from server.domains.affiliates.schemas import (
    AFFILIATE_ACCOUNTS,
    AVAILABLE,
    DEBT,
    FROZEN,
    LOCKED,
    PAID_OUT,
    PLATFORM_COMMISSIONS,
    AffiliateProfileRow,
    profile_row,
)
from server.domains.affiliates.schemas import COMMISSION_CURRENCY as CURRENCY

__all__ = [
    "AFFILIATE_ACCOUNTS",
    "AVAILABLE",
    "CURRENCY",
    "DEBT",
    "FROZEN",
    "LOCKED",
    "PAID_OUT",
    "PLATFORM_COMMISSIONS",
    "Leg",
    "Unbalanced",
    "account_balances",
    "lock_profile",
    "post",
    "posted",
    "sql",
]


class Leg(msgspec.Struct, frozen=True):
    """One entry to post: an account, its affiliate (None for platform accounts), cents."""

    account: str
    affiliate_id: int | None
    amount_cents: int


class Unbalanced(ValueError):
    pass


async def post(
    key: str,
    kind: str,
    affiliate_id: int | None,
    legs: list[Leg],
    *,
    invoice_id: int | None = None,
    commission_id: int | None = None,
    payout_id: int | None = None,
    memo: str = "",
) -> int | None:
    """Insert the transaction and its entries once; None when the key was already posted.

    The key is UNIQUE and derived from the cause, so a replay (a repeated webhook, a task run
    twice) inserts nothing. All entries go in one statement: the database checks each
    statement's transactions sum to zero. A transaction with no legs records that a cause was
    seen (a freeze with nothing left to freeze) so its replay is skipped too.
    """
    legs = [leg for leg in legs if leg.amount_cents != 0]
    if sum(leg.amount_cents for leg in legs) != 0:
        raise Unbalanced(f"transaction {key} does not sum to zero: {legs}")
    rows = await sql(
        "INSERT INTO ledger_transactions (idempotency_key, kind, affiliate, invoice, commission, "
        "payout, memo, created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, now()) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        key,
        kind,
        affiliate_id,
        invoice_id,
        commission_id,
        payout_id,
        memo,
    )
    if not rows:
        return None
    tx_id: int = rows[0]["id"]
    if legs:
        await sql(
            "INSERT INTO ledger_entries (transaction, account, affiliate, amount_cents, created_at) "
            "SELECT {}, a, f, c, now() FROM unnest({}::text[], {}::int[], {}::bigint[]) AS t(a, f, c)",
            tx_id,
            [leg.account for leg in legs],
            [leg.affiliate_id for leg in legs],
            [leg.amount_cents for leg in legs],
        )
    return tx_id


async def posted(keys: list[str]) -> set[str]:
    """Which of these idempotency keys already have a transaction."""
    rows = await sql(
        "SELECT idempotency_key FROM ledger_transactions WHERE idempotency_key = ANY({}::text[])",
        keys,
    )
    return {r["idempotency_key"] for r in rows}


async def lock_profile(affiliate_id: int) -> AffiliateProfileRow | None:
    """Take the affiliate's row lock: every writer of one affiliate's money goes through it,
    so balances read after this cannot change before the transaction commits."""
    rows = await sql("SELECT * FROM affiliate_profiles WHERE id = {} FOR UPDATE", affiliate_id)
    return profile_row(rows[0]) if rows else None
