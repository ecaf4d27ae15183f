"""/v1/subscriptions: retrieve, list, update (cancel_at_period_end, metadata), cancel."""

from __future__ import annotations

from litestar import Response

from devtools.stripe_emulator import billing
from devtools.stripe_emulator.api import (
    Req,
    delete,
    filtered,
    get,
    page,
    params_of,
    post,
    render,
    store_of,
)
from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.forms import as_bool, as_dict, merge_metadata


@get("/v1/subscriptions/{object_id:str}")
async def retrieve_subscription(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("subscription", object_id), await params_of(request))


@post("/v1/subscriptions/{object_id:str}")
async def update_subscription(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        sub = store.get("subscription", object_id)
        if sub["status"] == "canceled":
            raise invalid(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
        previous: dict = {}
        flag = as_bool(params, "cancel_at_period_end")
        if flag is not None and flag != sub["cancel_at_period_end"]:
            previous.update(
                {k: sub[k] for k in ("cancel_at_period_end", "cancel_at", "canceled_at")}
            )
            end = billing.period_end(sub)
            sub.update(
                cancel_at_period_end=flag,
                cancel_at=end if flag else None,
                canceled_at=store.now() if flag else None,
            )
        if "metadata" in params:
            previous["metadata"] = sub["metadata"]
            sub["metadata"] = merge_metadata(sub["metadata"], params["metadata"])
        if "cancellation_details" in params:
            previous["cancellation_details"] = sub["cancellation_details"]
            details = as_dict(params, "cancellation_details")
            sub["cancellation_details"] = {
                **sub["cancellation_details"],
                **{k: v or None for k, v in details.items() if k in ("comment", "feedback")},
            }
        store.put(sub)
        if previous:
            store.emit("customer.subscription.updated", sub, previous)
    return render(store, sub, params)


@delete("/v1/subscriptions/{object_id:str}")
async def cancel_subscription(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        sub = store.get("subscription", object_id)
        if sub["status"] == "canceled":
            raise invalid(
                f"No such subscription: '{object_id}'",
                param="id",
                code="resource_missing",
                status=404,
            )
        sub["canceled_at"] = store.now()
        billing.end_subscription(store, sub, reason="cancellation_requested")
    return render(store, sub, params)


@get("/v1/subscriptions")
async def list_subscriptions(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    status = params.pop("status", None)
    rows = filtered(store, "subscription", params, ["customer"])
    if status != "all":
        # Stripe's default leaves canceled subscriptions out of the list.
        rows = (
            sub
            for sub in rows
            if sub["status"] == status or (status is None and sub["status"] != "canceled")
        )
    if params.get("price"):
        rows = (
            s for s in rows if any(i["price"]["id"] == params["price"] for i in s["items"]["data"])
        )
    return page(store, rows, params, "/v1/subscriptions")


HANDLERS = [retrieve_subscription, update_subscription, cancel_subscription, list_subscriptions]
