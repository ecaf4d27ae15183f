"""/v1/customers: create, retrieve, update, list, delete."""

from __future__ import annotations

from litestar import Response

from devtools.stripe_emulator import objects
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
    stripe_json,
)
from devtools.stripe_emulator.forms import merge_metadata

EDITABLE = ("email", "name", "description", "phone")


@post("/v1/customers")
async def create_customer(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        cust = objects.customer(
            store.now(),
            email=params.get("email") or None,
            name=params.get("name") or None,
            metadata=merge_metadata({}, params.get("metadata")),
            description=params.get("description") or None,
            phone=params.get("phone") or None,
        )
        store.put(cust)
        store.emit("customer.created", cust)
    return render(store, cust, params)


@get("/v1/customers/{object_id:str}")
async def retrieve_customer(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("customer", object_id), await params_of(request))


@post("/v1/customers/{object_id:str}")
async def update_customer(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        cust = store.get("customer", object_id)
        previous = {}
        for name in EDITABLE:
            if name in params:
                previous[name] = cust[name]
                cust[name] = params[name] or None
        if "metadata" in params:
            previous["metadata"] = cust["metadata"]
            cust["metadata"] = merge_metadata(cust["metadata"], params["metadata"])
        store.put(cust)
        store.emit("customer.updated", cust, previous)
    return render(store, cust, params)


@get("/v1/customers")
async def list_customers(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    return page(store, filtered(store, "customer", params, ["email"]), params, "/v1/customers")


@delete("/v1/customers/{object_id:str}")
async def delete_customer(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    async with store.lock:
        cust = store.get("customer", object_id)
        cust["deleted"] = True
        store.put(cust)
        store.emit("customer.deleted", {k: v for k, v in cust.items() if k != "deleted"})
    return stripe_json({"id": object_id, "object": "customer", "deleted": True})


HANDLERS = [create_customer, retrieve_customer, update_customer, list_customers, delete_customer]
