"""Refund requests: the buyer asks within 14 days of a payment; an owner approves or rejects.

Approval refunds through Stripe with an idempotency key derived from the request, and cancels
the subscription; access then ends when Stripe's cancellation comes back as a webhook.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from stripe.params import RefundCreateParams

from db.billing.tables import Invoice, Purchase, RefundRequest
from db.uow import atomic
from server.domains.auth.schemas import CurrentUser
from server.domains.billing.schemas import RefundRead, RefundToDecide
from server.errors import ClientError, Conflict, NotFound
from server.integrations.stripe import client

WINDOW = timedelta(days=14)


_SELECT = (
    "SELECT r.*, i.currency, i.stripe_payment_intent_id, p.stripe_subscription_id, "
    "pr.platform FROM refund_requests r JOIN invoices i ON i.id = r.invoice "
    "JOIN purchases p ON p.id = r.purchase JOIN products pr ON pr.id = p.product "
)


def _refund_read(r: dict[str, Any]) -> RefundRead:
    return RefundRead(
        id=r["id"],
        purchase_id=r["purchase"],
        user_id=r["user"],
        amount_cents=r["amount_cents"],
        currency=r["currency"],
        reason=r["reason"],
        status=r["status"],
        decision_reason=r["decision_reason"],
        created_at=r["created_at"],
        decided_at=r["decided_at"],
    )


async def check_request_refund(user: CurrentUser, purchase_id: int, reason: str) -> RefundRead:
    purchase = (
        await Purchase.select(Purchase.id)
        .where((Purchase.id == purchase_id) & (Purchase.user == user.id))
        .first()
    )
    if purchase is None:
        raise NotFound(
            "No such purchase", code="purchase_not_found", details={"field": "purchase_id"}
        )
    invoice = (
        await Invoice.select()
        .where((Invoice.purchase == purchase_id) & (Invoice.status == "paid"))
        .order_by(Invoice.paid_at, ascending=False)
        .first()
    )
    now = datetime.now(UTC)
    if invoice is None or invoice["paid_at"] is None or invoice["paid_at"] < now - WINDOW:
        raise ClientError(
            "Refunds can be asked within 14 days of a payment", code="refund_window_closed"
        )
    try:
        rows = await _insert_request(purchase_id, invoice, user.id, reason)
    except asyncpg.UniqueViolationError:  # a concurrent request won (partial unique index)
        rows = []
    if not rows:
        raise Conflict(
            "A refund request for this purchase is already pending", code="refund_pending"
        )
    return await _read(rows[0]["id"])


async def _insert_request(
    purchase_id: int, invoice: dict[str, Any], user_id: int, reason: str
) -> list[dict[str, Any]]:
    async with atomic():
        return await RefundRequest.raw(
            'INSERT INTO refund_requests (purchase, invoice, "user", amount_cents, reason, '
            "status, decision_reason, created_at) SELECT {}, {}, {}, {}, {}, 'pending', '', "
            "now() WHERE NOT EXISTS (SELECT 1 FROM refund_requests WHERE purchase = {} "
            "AND status = 'pending') RETURNING id",
            purchase_id,
            invoice["id"],
            user_id,
            invoice["amount_paid_cents"] - invoice["amount_refunded_cents"],
            reason,
            purchase_id,
        )


async def _read(request_id: int) -> RefundRead:
    rows = await RefundRequest.raw(_SELECT + "WHERE r.id = {}", request_id)
    return _refund_read(rows[0])


async def list_for_user(user: CurrentUser) -> list[RefundRead]:
    rows = await RefundRequest.raw(_SELECT + 'WHERE r."user" = {} ORDER BY r.id DESC', user.id)
    return [_refund_read(r) for r in rows]


async def list_for_owner(user: CurrentUser, status: str | None) -> list[RefundRead]:
    rows = await RefundRequest.raw(
        _SELECT
        + "WHERE pr.platform = {} AND ({}::text IS NULL OR r.status = {}) ORDER BY r.id DESC",
        user.platform,
        status,
        status,
    )
    return [_refund_read(r) for r in rows]


async def _pending(user: CurrentUser, request_id: int) -> RefundToDecide:
    rows = await RefundRequest.raw(_SELECT + "WHERE r.id = {}", request_id)
    if not rows or rows[0]["platform"] != user.platform:
        raise NotFound("No such refund request", code="refund_not_found")
    req = msgspec.convert(rows[0], RefundToDecide)
    if req.status != "pending":
        raise Conflict(f"This request is already {req.status}", code="refund_decided")
    return req


async def _claim(request_id: int) -> None:
    """Take the decision: exactly one of several concurrent approvals goes on to Stripe."""
    rows = await RefundRequest.raw(
        "UPDATE refund_requests SET status = 'approving' WHERE id = {} AND status = 'pending' "
        "RETURNING id",
        request_id,
    )
    if not rows:
        raise Conflict("This request is being decided or was decided", code="refund_decided")


async def check_approve(user: CurrentUser, request_id: int) -> RefundRead:
    req = await _pending(user, request_id)
    await _claim(request_id)
    try:
        refund_id = await _refund_in_stripe(request_id, req)
    except Exception:
        # Stripe did not answer: the request stays decidable (the idempotency key makes a
        # later approval reuse whatever Stripe did).
        await RefundRequest.raw(
            "UPDATE refund_requests SET status = 'pending' WHERE id = {}", request_id
        )
        raise
    await _decide(
        request_id,
        user.id,
        "approved",
        "",
        refund_id,
        req.invoice,
        req.amount_cents,
        claimed=True,
    )
    return await _read(request_id)


async def _refund_in_stripe(request_id: int, req: RefundToDecide) -> str:
    params: RefundCreateParams = {}
    if req.stripe_payment_intent_id is not None:  # the library leaves a None out too
        params["payment_intent"] = req.stripe_payment_intent_id
    params["amount"] = req.amount_cents
    params["reason"] = "requested_by_customer"
    params["metadata"] = {"refund_request_id": str(request_id)}
    refund = await client().v1.refunds.create_async(
        params=params, options={"idempotency_key": f"refund-request-{request_id}"}
    )
    if req.stripe_subscription_id:
        await client().v1.subscriptions.cancel_async(
            req.stripe_subscription_id,
            options={"idempotency_key": f"refund-cancel-{request_id}"},
        )
    return refund.id


async def check_reject(user: CurrentUser, request_id: int, reason: str) -> RefundRead:
    await _pending(user, request_id)
    await _decide(request_id, user.id, "rejected", reason, None, None, 0)
    return await _read(request_id)


async def _decide(
    request_id: int,
    actor_id: int,
    status: str,
    reason: str,
    refund_id: str | None,
    invoice_id: int | None,
    amount: int,
    claimed: bool = False,
) -> None:
    async with atomic():
        updated = await RefundRequest.raw(
            "UPDATE refund_requests SET status = {}, decision_reason = {}, decided_by = {}, "
            "decided_at = now(), stripe_refund_id = {} WHERE id = {} AND status = {} "
            "RETURNING id",
            status,
            reason,
            actor_id,
            refund_id,
            request_id,
            "approving" if claimed else "pending",
        )
        if not updated:
            raise Conflict("This request was decided meanwhile", code="refund_decided")
        if invoice_id is not None:
            await Invoice.raw(
                "UPDATE invoices SET amount_refunded_cents = amount_refunded_cents "
                "+ {} WHERE id = {}",
                amount,
                invoice_id,
            )
