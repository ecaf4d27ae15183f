"""Products and prices built from create params (also used for checkout `price_data`)."""

from __future__ import annotations

from typing import Any

from devtools.stripe_emulator import objects
from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.forms import as_bool, as_dict, as_int, merge_metadata, required
from devtools.stripe_emulator.store import Store

INTERVALS = ("day", "week", "month", "year")


def build_product(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    return objects.product(
        store.now(),
        name=str(required(params, "name")),
        metadata=merge_metadata({}, params.get("metadata")),
        description=params.get("description") or None,
        active=as_bool(params, "active", True),
    )


def build_price(store: Store, params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A price from create params (also `price_data` of a checkout line, with `prefix` for errors)."""
    product_id = params.get("product")
    if not product_id and isinstance(params.get("product_data"), dict):
        product = store.put(build_product(store, params["product_data"]))
        store.emit("product.created", product)
        product_id = product["id"]
    if not product_id:
        raise invalid(
            "Missing required param: product.", param=f"{prefix}product", code="parameter_missing"
        )
    store.get("product", str(product_id), param=f"{prefix}product")
    currency = str(required(params, "currency")).lower()
    unit_amount = as_int(params, "unit_amount")
    if unit_amount is None:
        raise invalid(
            "Missing required param: unit_amount.",
            param=f"{prefix}unit_amount",
            code="parameter_missing",
        )
    rec = None
    if params.get("recurring"):
        raw = as_dict(params, "recurring")
        interval = raw.get("interval")
        if interval not in INTERVALS:
            raise invalid(
                "Invalid recurring[interval]: must be one of day, week, month, or year",
                param=f"{prefix}recurring[interval]",
            )
        rec = objects.recurring(
            interval,
            as_int(raw, "interval_count", 1, minimum=1) or 1,
            as_int(raw, "trial_period_days"),
        )
    return objects.price(
        store.now(),
        product_id=str(product_id),
        currency=currency,
        unit_amount=unit_amount,
        recurring=rec,
        metadata=merge_metadata({}, params.get("metadata")),
        nickname=params.get("nickname") or None,
        lookup_key=params.get("lookup_key") or None,
        active=as_bool(params, "active", True),
    )
