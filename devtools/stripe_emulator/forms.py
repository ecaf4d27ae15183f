"""Stripe's wire format for parameters: nested form keys (`a[b][0][c]=v`, `expand[]=x`) to dicts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from devtools.stripe_emulator.errors import invalid

_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


def parse_form(raw: bytes | str) -> dict[str, Any]:
    """Decode a query string or form body into nested dicts/lists of strings."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        _assign(root, _split_key(key), value)
    return _listify(root)


def _split_key(key: str) -> list[str]:
    # `expand[]` yields an empty part: it means "append" and _assign treats it so.
    parts = [a or b for a, b in _KEY.findall(key)]
    return parts or [key]


def _assign(node: dict[str, Any], parts: list[str], value: str) -> None:
    for part in parts[:-1]:
        if part == "":
            part = str(len(node))
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    last = parts[-1]
    node[str(len(node)) if last == "" else last] = value


def _listify(node: Any) -> Any:
    # Dicts whose keys are all indexes came from `x[0]=..` or `x[]=..`: Stripe treats them as arrays.
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def as_int(
    params: dict[str, Any], name: str, default: int | None = None, *, minimum: int = 0
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid(f"Invalid integer: {raw}", param=name) from None
    if value < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", param=name)
    return value


def as_bool(params: dict[str, Any], name: str, default: bool | None = None) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if str(raw).lower() in ("true", "false"):
        return str(raw).lower() == "true"
    raise invalid(f"Invalid boolean: {raw}", param=name)


def as_dict(params: dict[str, Any], name: str) -> dict[str, Any]:
    raw = params.get(name)
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise invalid("Invalid object", param=name)
    return raw


def as_list(params: dict[str, Any], name: str) -> list[Any]:
    raw = params.get(name)
    if raw is None or raw == "":
        return []
    if isinstance(raw, dict):  # `x[a]=..` where an array was expected
        raise invalid("Invalid array", param=name)
    return raw if isinstance(raw, list) else [raw]


def required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
    return value


def merge_metadata(current: dict[str, str], update: Any, param: str = "metadata") -> dict[str, str]:
    """Stripe semantics: keys are merged, an empty value deletes a key, `metadata=` clears all."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid("Invalid hash", param=param)
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged
