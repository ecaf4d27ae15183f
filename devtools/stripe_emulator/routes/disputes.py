"""/v1/disputes (read), and the emulator helpers that open and close a dispute on a charge."""

from __future__ import annotations

from litestar import Response

from devtools.stripe_emulator import objects
from devtools.stripe_emulator.api import Req, filtered, get, page, params_of, post, render, store_of
from devtools.stripe_emulator.errors import invalid

REASONS = (
    "fraudulent",
    "product_not_received",
    "duplicate",
    "subscription_canceled",
    "general",
    "unrecognized",
)


@get("/v1/disputes/{object_id:str}")
async def retrieve_dispute(request: Req, object_id: str) -> Response[bytes]:
    store = store_of(request)
    return render(store, store.get("dispute", object_id), await params_of(request))


@get("/v1/disputes")
async def list_disputes(request: Req) -> Response[bytes]:
    store, params = store_of(request), await params_of(request)
    return page(
        store,
        filtered(store, "dispute", params, ["charge", "payment_intent"]),
        params,
        "/v1/disputes",
    )


@post("/_emulator/charges/{object_id:str}/dispute")
async def open_dispute(request: Req, object_id: str) -> Response[bytes]:
    """Body (JSON or form, optional): {"reason": "fraudulent", "amount": cents}; default the whole charge."""
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        charge = store.get("charge", object_id)
        if not charge["paid"] or charge["disputed"]:
            raise invalid(f"Charge {object_id} is not paid or already disputed.")
        reason = str(params.get("reason") or "fraudulent")
        if reason not in REASONS:
            raise invalid(f"reason must be one of {', '.join(REASONS)}", param="reason")
        amount = int(params.get("amount") or charge["amount"])
        dispute = store.put(objects.dispute(store.now(), ch=charge, amount=amount, reason=reason))
        charge["disputed"] = True
        store.put(charge)
        store.emit("charge.dispute.created", dispute)
    return render(store, dispute, {})


@post("/_emulator/disputes/{object_id:str}/close")
async def close_dispute(request: Req, object_id: str) -> Response[bytes]:
    """Body: {"status": "won" | "lost"}."""
    store, params = store_of(request), await params_of(request)
    async with store.lock:
        dispute = store.get("dispute", object_id)
        status = params.get("status")
        if status not in ("won", "lost"):
            raise invalid("status must be won or lost", param="status")
        if dispute["status"] in ("won", "lost"):
            raise invalid(f"Dispute {object_id} is already closed ({dispute['status']}).")
        previous = {"status": dispute["status"]}
        dispute["status"] = status
        dispute["evidence_details"]["has_evidence"] = status == "won"
        store.put(dispute)
        store.emit("charge.dispute.closed", dispute, previous)
    return render(store, dispute, {})


HANDLERS = [retrieve_dispute, list_disputes, open_dispute, close_dispute]
