"""The double-entry ledger: post a balanced transaction once per cause, read balances from entries."""

from __future__ import annotations

from typing import Any

import msgspec

from db.affiliates.tables import LedgerEntry

# Affiliate accounts (each entry names its affiliate). Signs: money owed to the affiliate is
# positive; `debt` is zero or negative (what the affiliate owes after a clawback found too
# little); `paid_out` grows with every payout.
LOCKED = "locked"
FROZEN = "frozen"
AVAILABLE = "available"
PAID_OUT = "paid_out"
DEBT = "debt"
AFFILIATE_ACCOUNTS = (LOCKED, FROZEN, AVAILABLE, PAID_OUT, DEBT)
# The platform account (no affiliate): the counterpart of every commission and clawback. A
# payout moves money between two affiliate accounts (available -> paid_out), so the sum of an
# affiliate's accounts is always what they earned net of clawbacks.
PLATFORM_COMMISSIONS = "platform_commissions"
# Commissions, balances and payouts are kept in one currency: an invoice in another currency
# earns no commission (amounts in two currencies cannot be added), and catalog refuses a
# commission on a plan priced in another currency, so an owner sees the rule when pricing.
CURRENCY = "eur"


class Leg(msgspec.Struct, frozen=True):
    """One entry to post: an account, its affiliate (None for platform accounts), cents."""

    account: str
    affiliate_id: int | None
    amount_cents: int


class Unbalanced(ValueError):
    pass


async def sql(query: str, *args: Any) -> list[dict[str, Any]]:
    """Raw SQL on the current transaction's connection (Piccolo `{}` placeholders)."""
    return await LedgerEntry.raw(query, *args)


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


async def account_balances(affiliate_id: int) -> dict[str, int]:
    """Every account of one affiliate, summed from its entries (missing accounts are 0)."""
    rows = await sql(
        "SELECT account, COALESCE(sum(amount_cents), 0)::bigint AS total "
        "FROM ledger_entries WHERE affiliate = {} GROUP BY account",
        affiliate_id,
    )
    return account_sums({r["account"]: r["total"] for r in rows})


def account_sums(totals: dict[str, Any]) -> dict[str, int]:
    """Every affiliate account's sum, from the totals of the accounts that have entries."""
    sums = {account: 0 for account in AFFILIATE_ACCOUNTS}
    sums.update({account: int(total) for account, total in totals.items()})
    return sums


async def lock_profile(affiliate_id: int) -> dict[str, Any] | None:
    """Take the affiliate's row lock: every writer of one affiliate's money goes through it,
    so balances read after this cannot change before the transaction commits."""
    rows = await sql("SELECT * FROM affiliate_profiles WHERE id = {} FOR UPDATE", affiliate_id)
    return rows[0] if rows else None
