"""Billing realtime events to the buyer: live payment confirmation, end of paid access."""

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


class AccessEnded(msgspec.Struct, tag_field="type", tag="access_ended"):
    """The buyer's paid access to a guild ended without a Stripe event (the grace ran out)."""

    guild_id: int
    reason: str


def notify_access_ended(user_id: int, event: AccessEnded) -> None:
    emitter.queue(user_room(user_id), "access_ended", event)
