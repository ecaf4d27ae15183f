"""/v1/events: retrieve and list (`type` with `*` wildcards, `types[]`, `created[gte]` ...)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from litestar import Response

from devtools.stripe_emulator.api import Req, filtered, get, page, params_of, render, store_of
from devtools.stripe_emulator.forms import as_list


@get("/v1/events/{object_id:str}")
async def retrieve_event(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("event", object_id), await params_of(request))


@get("/v1/events")
async def list_events(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    patterns = [str(t) for t in as_list(params, "types")] or (
        [str(params["type"])] if params.get("type") else []
    )
    rows = filtered(store, "event", params, [])
    if patterns:
        rows = (
            evt for evt in rows if any(fnmatchcase(evt["type"], pattern) for pattern in patterns)
        )
    return page(store, rows, params, "/v1/events")


HANDLERS = [retrieve_event, list_events]
