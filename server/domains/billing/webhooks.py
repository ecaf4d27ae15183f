"""Inbound Stripe webhooks: verify, store once, process in a worker (received -> succeeded/failed).

The HTTP side only verifies and inserts (ON CONFLICT DO NOTHING on the Stripe event id), so a
duplicate or a retry is acknowledged without doing anything twice; the business logic runs
in a Celery task that claims the row, so a redelivered task finds it done.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import stripe
import structlog

from db.billing.tables import StripeEvent
from server.domains.billing.stripe_api import construct_event
from server.errors import ClientError
from server.settings import get_settings

log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
LEASE = timedelta(minutes=5)


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register a processor for Stripe event types (one small handler per type)."""

    def register(fn: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[event_type] = fn
        return fn

    return register


def verify(payload: bytes, signature: str | None) -> stripe.Event:
    """Any current secret may have signed it (rotation); else 400 and nothing is stored."""
    if not signature:
        raise ClientError("Missing Stripe-Signature header", code="invalid_signature")
    for secret in get_settings().stripe_webhook_secrets:
        try:
            return construct_event(payload, signature, secret)
        except stripe.SignatureVerificationError:
            continue
        except ValueError as exc:
            raise ClientError("The payload is not a Stripe event", code="invalid_payload") from exc
    raise ClientError("Invalid or stale Stripe signature", code="invalid_signature")


async def do_record_event(event: stripe.Event, payload: bytes) -> bool:
    """Store the event once; False when this Stripe id was already received."""
    rows = await StripeEvent.raw(
        "INSERT INTO stripe_events (stripe_id, type, livemode, stripe_created, payload, status, "
        "attempts, last_error, received_at) VALUES ({}, {}, {}, {}, {}::jsonb, 'received', 0, '', "
        "now()) ON CONFLICT (stripe_id) DO NOTHING RETURNING id",
        event.id, event.type, str(bool(event.livemode)).lower(), int(event.created),
        payload.decode("utf-8"))
    return bool(rows)


async def _claim(stripe_id: str) -> dict[str, Any] | None:
    rows = await StripeEvent.raw(
        "UPDATE stripe_events SET status = 'processing', attempts = attempts + 1, "
        "claimed_at = now() WHERE stripe_id = {} AND (status IN ('received', 'failed') "
        "OR (status = 'processing' AND claimed_at < (now() - {}::interval))) "
        "RETURNING id, type, payload", stripe_id, LEASE)
    return rows[0] if rows else None


async def _finish(stripe_id: str, status: str, error: str = "") -> None:
    await StripeEvent.raw(
        "UPDATE stripe_events SET status = {}, last_error = {}, processed_at = now() "
        "WHERE stripe_id = {}", status, error[:2000], stripe_id)


async def do_process_event(stripe_id: str) -> str:
    """Run the handler for a stored event; the returned status is also stored."""
    from server.domains.billing import handlers  # noqa: F401  -- registers the handlers

    row = await _claim(stripe_id)
    if row is None:
        return "skipped"  # done already, or another worker holds a fresh lease
    handler = HANDLERS.get(row["type"])
    if handler is None:
        await _finish(stripe_id, "ignored")
        return "ignored"
    payload = row["payload"]
    event = json.loads(payload) if isinstance(payload, str) else payload
    try:
        await handler(event)
    except Exception as exc:
        log.exception("stripe event failed", stripe_id=stripe_id, type=row["type"])
        await _finish(stripe_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    await _finish(stripe_id, "succeeded")
    return "succeeded"
