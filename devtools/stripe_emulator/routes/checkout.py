"""/v1/checkout/sessions: create, retrieve, list, line_items, expire."""

from __future__ import annotations

import copy

from litestar import Response

from devtools.stripe_emulator import api
from devtools.stripe_emulator.api import Req, filtered, get, page, params_of, post, render, store_of
from devtools.stripe_emulator.checkout import create_session
from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.store import Store


def session_lines(store: Store, session: dict) -> dict:
    data = copy.deepcopy(store.private(session["id"]).get("line_items", []))
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{session['id']}/line_items",
    }


# `expand[]=line_items` on a session: the list is not part of the object otherwise.
api.VIRTUAL[("checkout.session", "line_items")] = session_lines


@post("/v1/checkout/sessions")
async def create_checkout_session(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        session = create_session(store, params, request.app.state.public_url)
    return render(store, session, params)


@get("/v1/checkout/sessions/{object_id:str}")
async def retrieve_checkout_session(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("checkout.session", object_id), await params_of(request))


@get("/v1/checkout/sessions/{object_id:str}/line_items")
async def list_checkout_line_items(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    session = store.get("checkout.session", object_id)
    return page(
        store,
        session_lines(store, session)["data"],
        params,
        f"/v1/checkout/sessions/{object_id}/line_items",
    )


@post("/v1/checkout/sessions/{object_id:str}/expire")
async def expire_checkout_session(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        session = store.get("checkout.session", object_id)
        if session["status"] != "open":
            raise invalid(
                f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f'Session has a status of "{session["status"]}".'
            )
        session["status"] = "expired"
        store.emit("checkout.session.expired", store.put(session))
    return render(store, session, params)


@get("/v1/checkout/sessions")
async def list_checkout_sessions(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    rows = filtered(
        store, "checkout.session", params, ["customer", "payment_intent", "subscription", "status"]
    )
    return page(store, rows, params, "/v1/checkout/sessions")


HANDLERS = [
    create_checkout_session,
    retrieve_checkout_session,
    list_checkout_line_items,
    expire_checkout_session,
    list_checkout_sessions,
]
