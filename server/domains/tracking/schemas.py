"""Tracking and dashboard Structs: what the affiliate and owner APIs answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, get_args

import msgspec

Source = Literal["link", "free_product"]
SOURCES: tuple[str, ...] = get_args(Source)
_MAX_ID = 2**31 - 1


class CheckoutReferral(msgspec.Struct, frozen=True):
    """The affiliate a purchase earns for, as the checkout carries it in Stripe's metadata
    (strings only, and whatever a forged or stale session holds: parsed, never trusted)."""

    affiliate_id: int
    source: Source = "link"

    def metadata(self) -> dict[str, str]:
        return {"affiliate_id": str(self.affiliate_id), "attribution_source": self.source}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> CheckoutReferral | None:
        raw = str(metadata.get("affiliate_id") or "")
        if not raw.isdigit() or int(raw) > _MAX_ID:
            return None
        source = metadata.get("attribution_source")
        return cls(int(raw), source if source in SOURCES else "link")


class Visit(msgspec.Struct, frozen=True):
    """Where a tracked click came from (the page reports its own landing path and referrer)."""

    ip: str
    user_agent: str
    referrer: str
    landing_path: str


class Tracked(msgspec.Struct):
    tracked: bool
    affiliate_slug: str
    expires_at: datetime


class Claimed(msgspec.Struct):
    attributed: bool


class AffiliateStats(msgspec.Struct):
    """Every figure of the affiliate dashboard (cached in Redis, dropped on any change)."""

    affiliate_id: int
    slug: str
    referral_url: str
    clicks: int
    signups: int
    active_customers: int
    mrr_cents: int
    currency: str
    locked_cents: int
    # Held while a dispute is open: neither locked (no unlock date) nor available.
    frozen_cents: int
    available_cents: int
    paid_cents: int
    # What the affiliate owes (clawbacks beyond their available money), zero or more.
    debt_cents: int
    next_unlock_at: datetime | None
    computed_at: datetime


CommissionStatus = Literal[
    "PENDING_LOCK", "PARTIALLY_MATURED", "MATURED", "PAID", "CLAWED_BACK", "FROZEN"
]


class CommissionFilter(msgspec.Struct, frozen=True):
    status: CommissionStatus | None = None
    source: Source | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 50


class CommissionRead(msgspec.Struct):
    id: int
    purchase_id: int | None
    customer_email: str
    product_name: str
    amount_cents: int
    status: str
    from_free_product: bool
    unlock_at: datetime | None
    created_at: datetime


class PayoutRead(msgspec.Struct):
    id: int
    amount_cents: int
    method: str
    reference: str
    created_at: datetime


class CustomerRead(msgspec.Struct):
    user_id: int
    email: str
    # The customer's current attribution to this affiliate (None: moved to another one since)
    source: Source | None
    attributed_at: datetime | None
    expires_at: datetime | None
    purchases: int
    active: bool


class AffiliateSummary(msgspec.Struct):
    id: int
    user_id: int
    email: str
    display_name: str
    slug: str
    risk_level: str
    risk_notes: str
    first_commission_at: datetime | None
    created_at: datetime
    clicks: int
    customers: int
    commissions: int
    locked_cents: int
    available_cents: int
    paid_cents: int
    debt_cents: int


class AffiliateDetail(msgspec.Struct):
    affiliate: AffiliateSummary
    commissions: list[CommissionRead]
    customers: list[CustomerRead]
