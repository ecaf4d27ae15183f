"""Catalog Structs: X (read), XCreate, XUpdate (UNSET = leave as is)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
# Integer cents: 1 cent to 1,000,000.00 in the plan's currency.
Cents = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
Currency = Annotated[str, msgspec.Meta(pattern="^[a-z]{3}$")]
TrialDays = Annotated[int, msgspec.Meta(ge=0, le=365)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+$", max_length=1000)]
ButtonKey = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{4,64}$")]
RowId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class Interval(str, Enum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    ANNUALLY = "ANNUALLY"
    ONE_TIME = "ONE_TIME"
    LIFETIME = "LIFETIME"


class ProductRead(msgspec.Struct):
    id: int
    platform: str
    guild_id: int | None
    name: str
    description: str
    active: bool
    stripe_product_id: str | None
    created_at: datetime


class ProductCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Text = ""
    guild_id: RowId | None = None
    active: bool = True


class ProductUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Name | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class PlanRead(msgspec.Struct):
    id: int
    product_id: int
    name: str
    price_cents: int
    currency: str
    interval: Interval
    trial_days: int
    commission_percent: int
    active: bool
    stripe_price_id: str | None


class PlanCreate(msgspec.Struct, forbid_unknown_fields=True):
    product_id: RowId
    name: Name
    price_cents: Cents
    interval: Interval
    currency: Currency = "eur"
    trial_days: TrialDays = 0
    # Unset: 30 % in the affiliate ledger's currency, none in any other (see check_create_plan).
    commission_percent: Percent | None = None
    active: bool = True


class PlanUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Price, currency and interval are fixed once created (as in Stripe): make a new plan."""

    name: Name | UnsetType = UNSET
    trial_days: TrialDays | UnsetType = UNSET
    commission_percent: Percent | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class ButtonRead(msgspec.Struct):
    id: int
    button_key: str
    product_id: int
    plan_id: int
    display_name: str
    description: str
    cta_text: str
    success_url: str
    cancel_url: str
    active: bool
    snippet: str


class ButtonCreate(msgspec.Struct, forbid_unknown_fields=True):
    plan_id: RowId
    display_name: Name
    success_url: Url
    cancel_url: Url
    description: Text = ""
    cta_text: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] = "Join now"
    button_key: ButtonKey | None = None
    active: bool = True


class ButtonUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    display_name: Name | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    cta_text: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] | UnsetType = UNSET
    success_url: Url | UnsetType = UNSET
    cancel_url: Url | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class ButtonConfig(msgspec.Struct):
    """What a landing page needs to render a payment button."""

    button_key: str
    display_name: str
    description: str
    cta_text: str
    product_name: str
    plan_name: str
    price_cents: int
    currency: str
    interval: Interval
    trial_days: int
