"""Affiliate money Structs: balances, ledger lines, payouts, withdrawals, risk edits."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import msgspec

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
COMMISSION_CURRENCY = "eur"


def account_sums(totals: dict[str, Any]) -> dict[str, int]:
    """Every affiliate account's sum, from the totals of the accounts that have entries."""
    sums = {account: 0 for account in AFFILIATE_ACCOUNTS}
    sums.update({account: int(total) for account, total in totals.items()})
    return sums


class AffiliateProfileRow(msgspec.Struct):
    """An affiliate_profiles row, as it crosses modules (tracking reads it too)."""

    id: int
    user: int
    slug: str
    risk_level: str
    risk_notes: str
    first_commission_at: datetime | None
    created_at: datetime


def profile_row(row: dict[str, Any]) -> AffiliateProfileRow:
    return msgspec.convert(row, AffiliateProfileRow, from_attributes=False)


class PurchaseAttribution(msgspec.Struct):
    """The affiliate credited with a purchase, and how the customer came (link, free_product)."""

    affiliate: int
    source: str


class RiskLevel(str, Enum):
    NORMAL = "NORMAL"
    AT_RISK = "AT_RISK"
    HIGH_RISK = "HIGH_RISK"
    EXTREME_RISK = "EXTREME_RISK"


class PayoutMethod(str, Enum):
    BANK_TRANSFER = "bank_transfer"
    PAYPAL = "paypal"
    STRIPE = "stripe"


class EntryType(str, Enum):
    COMMISSION = "commission"
    MATURATION = "maturation"
    CLAWBACK = "clawback"
    FREEZE = "freeze"
    RELEASE = "release"
    PAYOUT = "payout"


Cents = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
RowId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class Balances(msgspec.Struct):
    """An affiliate's money in cents, summed from the ledger. `debt` is what they owe (>= 0)."""

    locked: int
    frozen: int
    available: int
    paid_out: int
    debt: int
    next_unlock_at: datetime | None


class LedgerLine(msgspec.Struct):
    """One entry of an affiliate account, with that account's balance right after it."""

    id: int
    transaction_id: int
    type: EntryType
    account: str
    amount_cents: int
    balance_after_cents: int
    commission_id: int | None
    invoice_id: int | None
    payout_id: int | None
    memo: str
    created_at: datetime


class LedgerPage(msgspec.Struct):
    affiliate_id: int
    balances: Balances
    entries: list[LedgerLine]
    # Pass as `cursor` for the next (older) page; None on the last page.
    next_cursor: int | None


class PayoutCreate(msgspec.Struct, forbid_unknown_fields=True):
    affiliate_id: RowId
    amount_cents: Cents
    method: PayoutMethod
    reference: Annotated[str, msgspec.Meta(max_length=255)] = ""
    notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class PayoutRecord(msgspec.Struct):
    id: int
    affiliate_id: int
    amount_cents: int
    method: PayoutMethod
    reference: str
    notes: str
    recorded_by: int | None
    created_at: datetime


class WithdrawalCreate(msgspec.Struct, forbid_unknown_fields=True):
    amount_cents: Cents
    method: PayoutMethod
    details: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class WithdrawalComplete(msgspec.Struct, forbid_unknown_fields=True):
    reference: Annotated[str, msgspec.Meta(max_length=255)] = ""
    notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class WithdrawalReject(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class WithdrawalRead(msgspec.Struct):
    id: int
    affiliate_id: int
    amount_cents: int
    method: PayoutMethod
    details: str
    status: str
    payout_id: int | None
    decision_note: str
    decided_at: datetime | None
    created_at: datetime


class PayableAffiliate(msgspec.Struct):
    affiliate_id: int
    user_id: int
    email: str
    slug: str
    risk_level: RiskLevel
    balances: Balances
    pending_withdrawal_cents: int | None


class RiskUpdate(msgspec.Struct, forbid_unknown_fields=True):
    risk_level: RiskLevel
    notes: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class RiskRead(msgspec.Struct):
    affiliate_id: int
    risk_level: RiskLevel
    risk_notes: str
    history: list[RiskChangeRead]


class RiskChangeRead(msgspec.Struct):
    old_level: RiskLevel
    new_level: RiskLevel
    notes: str
    changed_by: int | None
    created_at: datetime
