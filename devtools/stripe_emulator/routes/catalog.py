"""/v1/products and /v1/prices (recurring day/week/month/year with interval_count, or one_time)."""

from __future__ import annotations

from typing import Any

from litestar import Response

from devtools.stripe_emulator.api import Req, filtered, get, page, params_of, post, render, store_of
from devtools.stripe_emulator.catalog import build_price, build_product
from devtools.stripe_emulator.forms import as_bool, merge_metadata


def _update(obj: dict[str, Any], params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    previous: dict[str, Any] = {}
    for name in fields:
        if name in params:
            previous[name] = obj[name]
            obj[name] = as_bool(params, name) if name == "active" else (params[name] or None)
    if "metadata" in params:
        previous["metadata"] = obj["metadata"]
        obj["metadata"] = merge_metadata(obj["metadata"], params["metadata"])
    return previous


@post("/v1/products")
async def create_product(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        product = store.put(build_product(store, params))
        store.emit("product.created", product)
    return render(store, product, params)


@get("/v1/products/{object_id:str}")
async def retrieve_product(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("product", object_id), await params_of(request))


@post("/v1/products/{object_id:str}")
async def update_product(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        product = store.get("product", object_id)
        previous = _update(product, params, ("name", "description", "active", "default_price"))
        product["updated"] = store.now()
        store.emit("product.updated", store.put(product), previous)
    return render(store, product, params)


@get("/v1/products")
async def list_products(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    if "active" in params:
        params["active"] = as_bool(params, "active")
    return page(store, filtered(store, "product", params, ["active"]), params, "/v1/products")


@post("/v1/prices")
async def create_price(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        price = store.put(build_price(store, params))
        store.emit("price.created", price)
    return render(store, price, params)


@get("/v1/prices/{object_id:str}")
async def retrieve_price(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("price", object_id), await params_of(request))


@post("/v1/prices/{object_id:str}")
async def update_price(request: Req, object_id: str) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        price = store.get("price", object_id)
        previous = _update(price, params, ("active", "nickname", "lookup_key"))
        store.emit("price.updated", store.put(price), previous)
    return render(store, price, params)


@get("/v1/prices")
async def list_prices(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    if "active" in params:
        params["active"] = as_bool(params, "active")
    rows = filtered(store, "price", params, ["product", "active", "currency", "type"])
    return page(store, rows, params, "/v1/prices")


HANDLERS = [
    create_product,
    retrieve_product,
    update_product,
    list_products,
    create_price,
    retrieve_price,
    update_price,
    list_prices,
]
