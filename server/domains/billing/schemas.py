"""Billing Structs."""
from __future__ import annotations

import msgspec


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool
    event_id: str
