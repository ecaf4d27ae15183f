"""Affiliate tables: profiles, commissions, the append-only double-entry ledger, payouts."""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from db.auth.tables import User
from db.billing.tables import Invoice, Purchase


class AffiliateProfile(Table, tablename="affiliate_profiles"):
    """A WEOKTO user who earns commissions through referral links."""

    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict, unique=True)
    slug = Varchar(length=64, unique=True)
    # NORMAL, AT_RISK, HIGH_RISK, EXTREME_RISK: a risky affiliate's money unlocks later.
    risk_level = Varchar(length=16, default="NORMAL")
    risk_notes = Text(default="")
    # The age of an affiliate (and so the lock profile of a commission) counts from here.
    first_commission_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RiskChange(Table, tablename="affiliate_risk_changes"):
    """Audit row of every risk-level edit."""

    id: Serial  # the implicit primary key, declared for the type checker

    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.restrict, index=True)
    old_level = Varchar(length=16)
    new_level = Varchar(length=16)
    notes = Text(default="")
    changed_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class Commission(Table, tablename="commissions"):
    """What one paid invoice of an attributed customer earned its affiliate (one per invoice).

    The ledger is the truth about money; these columns are the per-part bookkeeping the
    maturation and clawback statements need, written in the same transaction as the entries.
    """

    id: Serial  # the implicit primary key, declared for the type checker

    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.restrict, index=True)
    invoice = ForeignKey(Invoice, null=False, on_delete=OnDelete.restrict, unique=True)
    purchase = ForeignKey(Purchase, null=False, on_delete=OnDelete.restrict, index=True)
    from_free_product = Boolean(default=False)
    base_cents = Integer()
    commission_percent = Integer()
    amount_cents = Integer()
    # The lock profile used (AGE_0_30 ... AGE_91_PLUS, AT_RISK, HIGH_RISK, EXTREME_RISK).
    profile = Varchar(length=16)
    main_cents = Integer()
    ext_cents = Integer()
    main_unlock_at = Timestamptz()
    ext_unlock_at = Timestamptz()
    # What is still locked (or frozen) in each part, after clawbacks.
    main_locked_cents = Integer()
    ext_locked_cents = Integer()
    main_matured_at = Timestamptz(null=True, default=None)
    ext_matured_at = Timestamptz(null=True, default=None)
    matured_cents = Integer(default=0)
    clawed_back_cents = Integer(default=0)
    # Set when payouts covered it (oldest commissions first).
    paid_at = Timestamptz(null=True, default=None)
    # PENDING_LOCK, PARTIALLY_MATURED, MATURED, PAID, CLAWED_BACK, FROZEN
    status = Varchar(length=20, default="PENDING_LOCK", index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Payout(Table, tablename="affiliate_payouts"):
    """Money sent to an affiliate, recorded by the owner."""

    id: Serial  # the implicit primary key, declared for the type checker

    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.restrict, index=True)
    amount_cents = Integer()
    # bank_transfer, paypal, stripe
    method = Varchar(length=16)
    reference = Varchar(length=255, default="")
    notes = Text(default="")
    recorded_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class WithdrawalRequest(Table, tablename="affiliate_withdrawals"):
    """An affiliate asking to be paid; the owner completes (with a payout) or rejects it."""

    id: Serial  # the implicit primary key, declared for the type checker

    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.restrict, index=True)
    amount_cents = Integer()
    method = Varchar(length=16)
    details = Text(default="")
    # pending -> completed | rejected
    status = Varchar(length=16, default="pending", index=True)
    payout = ForeignKey(Payout, null=True, on_delete=OnDelete.restrict)
    decided_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class LedgerTransaction(Table, tablename="ledger_transactions"):
    """One money movement; its entries sum to zero. Append-only (database triggers)."""

    id: Serial  # the implicit primary key, declared for the type checker

    # Derived from the cause (commission:{invoice}, mature:{commission}:main, payout:{id} ...)
    # so a replay of the same cause inserts nothing.
    idempotency_key = Varchar(length=200, unique=True)
    # commission, maturation, clawback, freeze, release, payout
    kind = Varchar(length=16, index=True)
    affiliate = ForeignKey(AffiliateProfile, null=True, on_delete=OnDelete.restrict, index=True)
    invoice = ForeignKey(Invoice, null=True, on_delete=OnDelete.restrict)
    commission = ForeignKey(Commission, null=True, on_delete=OnDelete.restrict, index=True)
    payout = ForeignKey(Payout, null=True, on_delete=OnDelete.restrict)
    memo = Varchar(length=255, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class LedgerEntry(Table, tablename="ledger_entries"):
    """One signed amount on one account. Append-only (database triggers).

    Affiliate accounts: locked, frozen, available (never below zero), paid_out, debt (zero
    or negative: what the affiliate owes). Platform accounts have no affiliate:
    platform_commissions (the counterpart of earnings and clawbacks).
    """

    id: Serial  # the implicit primary key, declared for the type checker

    transaction = ForeignKey(LedgerTransaction, null=False, on_delete=OnDelete.restrict, index=True)
    account = Varchar(length=24)
    affiliate = ForeignKey(AffiliateProfile, null=True, on_delete=OnDelete.restrict)
    amount_cents = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())


class LedgerBalance(Table, tablename="ledger_balances"):
    """Cached balance of one affiliate account, kept by the entries' insert trigger.

    It lets PostgreSQL refuse a negative available balance in O(entries inserted) instead of
    summing an affiliate's whole history on every insert; tests check it against the entries.
    Platform accounts are not cached (one hot row would serialize every posting).
    """

    id: Serial  # the implicit primary key, declared for the type checker

    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.restrict)
    account = Varchar(length=24)
    balance_cents = BigInt()

    unique_ledger_balance_account = Unique(["affiliate", "account"])
