"""The one place the official stripe library is configured: real Stripe or the local emulator."""

from __future__ import annotations

from functools import lru_cache

import stripe

from core.settings import get_settings


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
