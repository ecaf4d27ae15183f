"""The one place the official stripe library is configured: real Stripe or the local emulator."""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar

import msgspec
import stripe

from core.settings import get_settings

T = TypeVar("T")


@lru_cache(maxsize=1)
def client() -> stripe.StripeClient:
    settings = get_settings()
    # httpx serves both the sync and the async methods (`*_async`) used from the event loop.
    http = stripe.HTTPXClient()
    if settings.stripe_api_base:
        return stripe.StripeClient(
            settings.stripe_api_key,
            http_client=http,
            base_addresses={"api": settings.stripe_api_base},
        )
    return stripe.StripeClient(settings.stripe_api_key, http_client=http)


def verify_signature(payload: str, signature: str, secret: str) -> None:
    """Raises stripe.SignatureVerificationError unless `secret` signed it less than 300 s ago
    (an older signature is a replay, whatever its HMAC). The event itself is parsed by the
    caller: building a stripe.Event on the accept path cost more than the HMAC."""
    stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=300)


# Typed views of the Stripe objects we read: only the fields the code uses. Stripe adds fields
# freely; msgspec ignores unknown ones, and a missing optional field decodes to its default.


class EventData(msgspec.Struct):
    # Left encoded: each handler decodes it into the view of its own object type.
    object: msgspec.Raw


class EventView(msgspec.Struct):
    """A webhook event as stored: its type and its object."""

    id: str
    type: str
    data: EventData


class CheckoutSessionView(msgspec.Struct):
    id: str
    subscription: str | None = None
    invoice: str | None = None
    client_reference_id: str | None = None


class SubscriptionDetails(msgspec.Struct):
    subscription: str | None = None


class InvoiceParent(msgspec.Struct):
    subscription_details: SubscriptionDetails | None = None


class InvoiceView(msgspec.Struct):
    id: str
    # Since API 2026-10 an invoice names its subscription under parent.subscription_details;
    # `subscription` is the older place, still read for events stored before the upgrade.
    parent: InvoiceParent | None = None
    subscription: str | None = None
    metadata: dict[str, str] = {}

    @property
    def subscription_id(self) -> str | None:
        details = self.parent.subscription_details if self.parent else None
        return (details.subscription if details else None) or self.subscription


class ChargeOrRefundView(msgspec.Struct):
    """charge.refunded carries a charge, refund.* a refund that names its charge."""

    id: str
    object: str
    charge: str | None = None

    @property
    def charge_id(self) -> str | None:
        return self.id if self.object == "charge" else self.charge


class ObjectId(msgspec.Struct):
    id: str


def decode_event(payload: str | bytes) -> EventView:
    return msgspec.json.decode(payload, type=EventView)


def read_object(event: EventView, view: type[T]) -> T:
    return msgspec.json.decode(event.data.object, type=view)
