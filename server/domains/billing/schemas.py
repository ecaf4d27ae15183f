"""Billing Structs."""
from __future__ import annotations

from datetime import datetime

import msgspec


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool
    event_id: str


class PurchaseRead(msgspec.Struct):
    id: int
    product_id: int
    product_name: str
    plan_id: int
    plan_name: str
    price_cents: int
    currency: str
    interval: str
    guild_id: int | None
    status: str
    grants_access: bool
    current_period_end: datetime | None
    cancel_at_period_end: bool
    created_at: datetime
