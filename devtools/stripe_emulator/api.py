"""Request/response plumbing shared by the /v1 routes: params, expand, list pagination, JSON."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

import litestar
from litestar import Request, Response

from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.forms import as_dict, as_int, as_list, parse_form
from devtools.stripe_emulator.store import API_VERSION, Store

Obj = dict[str, Any]
Req = Request[Any, Any, Any]
# Stripe answers 200 to every successful call, creates and deletes included.
post = functools.partial(litestar.post, status_code=200)
delete = functools.partial(litestar.delete, status_code=200)
get = litestar.get
# Fields that are not on the object at all unless expanded (Stripe calls them "includable").
VIRTUAL: dict[tuple[str, str], Callable[[Store, Obj], Any]] = {}


def store_of(request: Req) -> Store:
    return request.app.state.store


async def params_of(request: Req) -> Obj:
    """Query-string params merged with the form body (the stripe library uses one or the other)."""
    params = parse_form(request.scope.get("query_string", b""))
    if request.method in ("POST", "DELETE"):
        body = await request.body()
        if body and request.headers.get("content-type", "").startswith("application/json"):
            loaded = json.loads(body)  # the /_emulator controls also take JSON
            if not isinstance(loaded, dict):
                raise invalid("Expected a JSON object")
            params.update(loaded)
        elif body:
            params.update(parse_form(body))
    return params


def stripe_json(obj: Any, status: int = 200) -> Response[bytes]:
    headers = {"Request-Id": "req_emulator", "Stripe-Version": API_VERSION}
    return Response(
        json.dumps(obj, indent=2).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def render(store: Store, obj: Obj, params: Obj) -> Response[bytes]:
    return stripe_json(expand(store, obj, as_list(params, "expand")))


def expand(store: Store, obj: Obj, paths: Iterable[str]) -> Obj:
    out = copy.deepcopy(obj)
    for path in paths:
        _expand(store, out, str(path).split("."))
    return out


def _expand(store: Store, node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(store, item, parts)
        return
    if not isinstance(node, dict):
        return
    key, rest = parts[0], parts[1:]
    virtual = VIRTUAL.get((str(node.get("object")), key))
    if virtual is not None:
        node[key] = virtual(store, node)
    elif key not in node:
        raise invalid(f"This property cannot be expanded ({key}).", param="expand")
    value = node[key]
    if isinstance(value, str) and store.find(value) is not None:
        value = copy.deepcopy(store.find(value))
        node[key] = value
    if rest:
        _expand(store, value, rest)


def page(store: Store, items: Iterable[Obj], params: Obj, url: str) -> Response[bytes]:
    """A Stripe list object: newest first, `limit` (1..100), `starting_after`/`ending_before` cursors."""
    limit = as_int(params, "limit", 10, minimum=1) or 10
    if limit > 100:
        raise invalid("This value must be less than or equal to 100.", param="limit")
    rows = list(items)
    after, before = params.get("starting_after"), params.get("ending_before")
    if after:
        rows = rows[_position(rows, str(after), "starting_after") + 1 :]
    if before:
        rows = rows[: _position(rows, str(before), "ending_before")]
        chosen = rows[-limit:]
        has_more = len(rows) > limit
    else:
        chosen = rows[:limit]
        has_more = len(rows) > limit
    paths = [
        str(path)[len("data.") :]
        for path in as_list(params, "expand")
        if str(path).startswith("data.")
    ]
    data = [expand(store, obj, paths) for obj in chosen]
    return stripe_json({"object": "list", "data": data, "has_more": has_more, "url": url})


def _position(rows: list[Obj], object_id: str, param: str) -> int:
    for index, row in enumerate(rows):
        if row["id"] == object_id:
            return index
    raise invalid(f"Invalid {param}: {object_id} is not in this list", param=param)


def matches_created(obj: Obj, params: Obj) -> bool:
    """The `created` filter: an exact timestamp or a dict of gt/gte/lt/lte bounds."""
    created = params.get("created")
    if created is None or created == "":
        return True
    stamp = int(obj["created"])
    if not isinstance(created, dict):
        return stamp == int(created)
    bounds = {op: as_int(as_dict(params, "created"), op) for op in ("gt", "gte", "lt", "lte")}
    return (
        (bounds["gt"] is None or stamp > bounds["gt"])
        and (bounds["gte"] is None or stamp >= bounds["gte"])
        and (bounds["lt"] is None or stamp < bounds["lt"])
        and (bounds["lte"] is None or stamp <= bounds["lte"])
    )


def filtered(store: Store, kind: str, params: Obj, fields: Iterable[str]) -> Iterable[Obj]:
    """Objects of `kind` matching `created` and equality on each given top-level field."""
    wanted = {name: params[name] for name in fields if params.get(name) not in (None, "")}
    for obj in store.all(kind):
        if matches_created(obj, params) and all(
            obj.get(name) == value for name, value in wanted.items()
        ):
            yield obj
