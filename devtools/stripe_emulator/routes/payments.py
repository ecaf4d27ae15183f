"""/v1/invoices, /v1/payment_intents and /v1/charges (read-only), and /v1/refunds."""

from __future__ import annotations

from typing import Any

from litestar import Response

from devtools.stripe_emulator import objects
from devtools.stripe_emulator.api import Req, filtered, get, page, params_of, post, render, store_of
from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.forms import as_int, merge_metadata
from devtools.stripe_emulator.store import Store

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _retrieve(kind: str, path: str) -> Any:
    @get(path, name=f"retrieve_{kind}")
    async def retrieve(request: Req, object_id: str) -> Response[bytes]:
        store = store_of(request)
        return render(store, store.get(kind, object_id), await params_of(request))

    return retrieve


@get("/v1/invoices")
async def list_invoices(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    rows = filtered(store, "invoice", params, ["customer", "status"])
    if params.get("subscription"):
        rows = (
            inv
            for inv in rows
            if ((inv["parent"] or {}).get("subscription_details") or {}).get("subscription")
            == params["subscription"]
        )
    return page(store, rows, params, "/v1/invoices")


@get("/v1/payment_intents")
async def list_payment_intents(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    return page(
        store,
        filtered(store, "payment_intent", params, ["customer"]),
        params,
        "/v1/payment_intents",
    )


@get("/v1/charges")
async def list_charges(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    rows = filtered(store, "charge", params, ["customer", "payment_intent"])
    return page(store, rows, params, "/v1/charges")


def refund_charge(store: Store, charge: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Refund all or part of what is left on a charge; the charge shows it at once (cards settle instantly here)."""
    remaining = int(charge["amount_captured"]) - int(charge["amount_refunded"])
    if remaining <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = as_int(params, "amount", remaining, minimum=1) or remaining
    if amount > remaining:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            param="amount",
            code="amount_too_large",
        )
    reason = params.get("reason") or None
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid(
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            param="reason",
        )
    refund = store.put(
        objects.refund(
            store.now(),
            ch=charge,
            amount=amount,
            reason=reason,
            metadata=merge_metadata({}, params.get("metadata")),
        )
    )
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    charge["refunds"]["data"].insert(0, refund)
    charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
    store.put(charge)
    store.emit("refund.created", refund)
    store.emit("charge.refunded", charge, previous)
    return refund


@post("/v1/refunds")
async def create_refund(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        if params.get("charge"):
            charge = store.get("charge", str(params["charge"]), param="charge")
        elif params.get("payment_intent"):
            intent = store.get(
                "payment_intent", str(params["payment_intent"]), param="payment_intent"
            )
            if not intent["latest_charge"] or intent["status"] != "succeeded":
                raise invalid(
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    param="payment_intent",
                    code="charge_not_refundable",
                )
            charge = store.get("charge", intent["latest_charge"])
        else:
            raise invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
            )
        if not charge["paid"]:
            raise invalid(f"Charge {charge['id']} has not been paid.", code="charge_not_refundable")
        refund = refund_charge(store, charge, params)
    return render(store, refund, params)


@get("/v1/refunds")
async def list_refunds(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    return page(
        store,
        filtered(store, "refund", params, ["charge", "payment_intent"]),
        params,
        "/v1/refunds",
    )


HANDLERS = [
    _retrieve("invoice", "/v1/invoices/{object_id:str}"),
    list_invoices,
    _retrieve("payment_intent", "/v1/payment_intents/{object_id:str}"),
    list_payment_intents,
    _retrieve("charge", "/v1/charges/{object_id:str}"),
    list_charges,
    _retrieve("refund", "/v1/refunds/{object_id:str}"),
    create_refund,
    list_refunds,
    _retrieve("payment_method", "/v1/payment_methods/{object_id:str}"),
]
