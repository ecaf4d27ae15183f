"""The one place the official stripe library is configured: real Stripe or the local emulator."""
from __future__ import annotations

from functools import lru_cache

import stripe

from server.settings import get_settings


@lru_cache(maxsize=1)
def client() -> stripe.StripeClient:
    settings = get_settings()
    # httpx serves both the sync and the async methods (`*_async`) used from the event loop.
    http = stripe.HTTPXClient()
    if settings.stripe_api_base:
        return stripe.StripeClient(settings.stripe_api_key, http_client=http,
                                   base_addresses={"api": settings.stripe_api_base})
    return stripe.StripeClient(settings.stripe_api_key, http_client=http)


def construct_event(payload: bytes, signature: str | None, secret: str) -> stripe.Event:
    # 300 s tolerance: an older signature is a replay, whatever its HMAC.
    return stripe.Webhook.construct_event(payload, signature, secret, tolerance=300)
