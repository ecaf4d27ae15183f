"""Billing realtime events to the buyer: live payment confirmation (the end of paid access is a
guild event, guilds.events.AccessEnded, sent when the sockets have left the paid channels)."""

from __future__ import annotations

import msgspec

from realtime import emitter
from realtime.rooms import user_room


class PaymentSucceeded(msgspec.Struct, tag_field="type", tag="payment_succeeded"):
    purchase_id: int
    plan_id: int
    product_id: int
    guild_id: int | None
    status: str
    checkout_session_id: str | None


def notify_payment_succeeded(user_id: int, event: PaymentSucceeded) -> None:
    emitter.queue(user_room(user_id), "payment_succeeded", event)
