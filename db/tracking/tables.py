"""Affiliate tracking tables: link clicks, each customer's attribution, attributed purchases."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from db.affiliates.tables import AffiliateProfile
from db.auth.tables import User
from db.billing.tables import Purchase


class TrackingEvent(Table, tablename="tracking_events"):
    """One visit through an affiliate link (`?ref={slug}`)."""

    id: Serial  # the implicit primary key, declared for the type checker

    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.cascade)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=512, default="")
    referrer = Varchar(length=1000, default="")
    landing_path = Varchar(length=1000, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Attribution(Table, tablename="attributions"):
    """The affiliate a customer is attributed to: one row per customer, the last click wins."""

    id: Serial  # the implicit primary key, declared for the type checker

    customer = ForeignKey(User, null=False, on_delete=OnDelete.cascade, unique=True)
    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.cascade, index=True)
    # 'link' (a click) or 'free_product' (joined a free guild through a referral)
    source = Varchar(length=16, default="link")
    # When the click that made this attribution happened: only a newer click replaces it.
    clicked_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PurchaseAttribution(Table, tablename="purchase_attributions"):
    """The affiliate a purchase earns commissions for, fixed at checkout (read by the ledger)."""

    id: Serial  # the implicit primary key, declared for the type checker

    purchase = ForeignKey(Purchase, null=False, on_delete=OnDelete.cascade, unique=True)
    affiliate = ForeignKey(AffiliateProfile, null=False, on_delete=OnDelete.restrict, index=True)
    source = Varchar(length=16, default="link")
    created_at = Timestamptz(default=TimestamptzNow())
