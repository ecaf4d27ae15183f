"""Emulator-only controls under /_emulator: health, clock, test cards, checkout shortcut, chaos, reset."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Response

from devtools.stripe_emulator import clock
from devtools.stripe_emulator.api import Req, get, params_of, post, render, store_of, stripe_json
from devtools.stripe_emulator.cards import lookup
from devtools.stripe_emulator.checkout import complete_session
from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.forms import as_bool, as_int
from devtools.stripe_emulator.webhooks import Deliverer


def deliverer_of(request: Req) -> Deliverer:
    return request.app.state.deliverer


def _status(request: Req) -> dict[str, Any]:
    store, deliverer = store_of(request), deliverer_of(request)
    config = deliverer.config
    return {
        "ok": True,
        "now": store.now(),
        "clock_offset": store.state.clock_offset,
        "webhook_url": config.url,
        "pending_webhooks": deliverer.pending,
        "chaos": {
            "duplicate": config.duplicate,
            "shuffle": config.shuffle,
            "window": config.window,
        },
    }


@get("/_emulator/health")
async def health(request: Req) -> Response[bytes]:
    return stripe_json(_status(request))


@post("/_emulator/advance")
async def advance(request: Req) -> Response[bytes]:
    """Body: {"days": n} and/or {"seconds": n}. Renewals, retries and expiries due by then run in order."""
    store, params = store_of(request), await params_of(request)
    seconds = (as_int(params, "days", 0) or 0) * 86400 + (as_int(params, "seconds", 0) or 0)
    if seconds <= 0:
        raise invalid("Give a positive number of days or seconds", param="days")
    async with store.lock:
        processed = clock.advance(store, seconds)
    return stripe_json({**_status(request), "processed": processed})


@post("/_emulator/checkout/{object_id:str}/pay")
async def pay_session(request: Req, object_id: str) -> Response[bytes]:
    """Body: {"card": "4242424242424242", "email"?, "name"?}: what the hosted page does, without a browser."""
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        session = store.get("checkout.session", object_id)
        complete_session(
            store,
            session,
            str(params.get("card") or "4242424242424242"),
            params.get("email") or None,
            params.get("name") or None,
        )
    return render(store, session, params)


@post("/_emulator/customers/{object_id:str}/card")
async def set_card(request: Req, object_id: str) -> Response[bytes]:
    """Body: {"card": number}: the card later renewals and retries charge (e.g. 4000000000000341 to fail)."""
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        cust = store.get("customer", object_id)
        card = lookup(str(params.get("card") or ""))
        store.private(object_id)["card"] = card.number
        store.touch()
    return stripe_json({"customer": cust["id"], "card": {"brand": card.brand, "last4": card.last4}})


@post("/_emulator/chaos")
async def chaos(request: Req) -> Response[bytes]:
    """Body: {"duplicate": bool, "shuffle": bool, "window": seconds}: stress the app's webhook idempotency."""
    params = await params_of(request)
    config = deliverer_of(request).config
    config.duplicate = _flag(params, "duplicate", config.duplicate)
    config.shuffle = _flag(params, "shuffle", config.shuffle)
    if params.get("window") is not None:
        config.window = float(params["window"])
    return stripe_json(_status(request))


@post("/_emulator/webhook")
async def configure_webhook(request: Req) -> Response[bytes]:
    """Body: {"url": ..., "secret": "whsec_..."}: where events go (empty url stops delivery)."""
    params = await params_of(request)
    config = deliverer_of(request).config
    if "url" in params:
        config.url = params["url"] or None
    if params.get("secret"):
        config.secret = str(params["secret"])
    return stripe_json(_status(request))


@get("/_emulator/deliveries")
async def deliveries(request: Req) -> Response[bytes]:
    """The webhook delivery log, oldest first: event id and type, attempt, HTTP status or error."""
    return stripe_json({"data": [dataclasses.asdict(entry) for entry in deliverer_of(request).log]})


@post("/_emulator/reset")
async def reset(request: Req) -> Response[bytes]:
    """Forget every object, event, card and clock offset, and drop undelivered webhooks."""
    store = store_of(request)
    async with store.lock:
        store.reset()
        deliverer_of(request).drop_pending()
        deliverer_of(request).log.clear()
        request.app.state.on_reset()  # idempotency keys go too: a fresh account
    return stripe_json(_status(request))


def _flag(params: dict[str, Any], name: str, current: bool) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return bool(as_bool(params, name, current))


HANDLERS = [health, advance, pay_session, set_card, chaos, configure_webhook, deliveries, reset]
