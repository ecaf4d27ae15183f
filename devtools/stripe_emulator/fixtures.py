"""Stripe's own example objects (data/fixtures3.json, MIT) used as templates for every response."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


@cache
def _resources() -> dict[str, dict[str, Any]]:
    with (DATA_DIR / "fixtures3.json").open(encoding="utf-8") as handle:
        return json.load(handle)["resources"]


def template(kind: str, /, extra: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A fresh copy of Stripe's example `kind` with `fields` overriding its example values.

    Every key Stripe sends stays present (so the library's typed objects see what they expect);
    callers must override each example value that would be misleading (ids, amounts, links).
    `extra` adds fields the example lacks but the current API version sends.
    """
    obj = copy.deepcopy(_resources()[kind])
    unknown = set(fields) - set(obj)
    if unknown:
        raise KeyError(f"{kind} has no fields {sorted(unknown)}")  # a typo, not a new field
    obj.update(fields)
    obj.update(extra or {})
    return obj
