"""Stripe webhook endpoint: verify the signature, store the event once, queue it, answer 2xx."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from server.domains.auth.guards import login_required, roles
from server.domains.auth.schemas import Role
from server.domains.billing import queries, receipts
from server.domains.billing.actions import refunds, webhooks
from server.domains.billing.actions.checkout import CheckoutStarted, check_start_checkout
from server.domains.billing.schemas import AccessRead, PurchaseRead, RefundRead, WebhookAck
from server.domains.tracking.actions import check_claim
from server.domains.tracking.cookie import COOKIE_NAME as REF_COOKIE
from server.errors import error_responses


class StripeWebhookController(Controller):
    path = "/webhooks"
    tags = ["billing"]

    @post("/stripe", status_code=200, responses=error_responses(400, 503))
    async def stripe_webhook(self, request: Request[Any, Any, Any]) -> WebhookAck:
        """Signed Stripe events; duplicates are acknowledged and ignored."""
        payload = await request.body()
        event = webhooks.verify(payload, request.headers.get("stripe-signature"))
        # Stored (with concurrent requests' events, in one commit) and a drain asked for,
        # duplicates included: Stripe's retry after our 503 must still get its row processed.
        fresh = await webhooks.intake().accept(event, payload)
        return WebhookAck(received=True, duplicate=not fresh, event_id=event.id)


class CheckoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    buttonKey: str = msgspec.field(name="buttonKey")


class CheckoutController(Controller):
    path = "/api/payments"
    tags = ["payments"]
    guards = [login_required]

    @post("/checkout", status_code=200, responses=error_responses(400, 401, 404, 503))
    async def checkout(
        self, request: Request[Any, Any, Any], data: JSONBody[CheckoutRequest]
    ) -> CheckoutStarted:
        """Start Stripe Checkout for a payment button; answers the URL to redirect to."""
        await check_claim(request.user, request.cookies.get(REF_COOKIE))  # referral -> attribution
        return await check_start_checkout(request.user, data.buttonKey)


class PurchaseController(Controller):
    path = "/api/purchases"
    tags = ["payments"]
    guards = [login_required]

    @get("/", responses=error_responses(401))
    async def list_purchases(self, request: Request[Any, Any, Any]) -> list[PurchaseRead]:
        """My purchases, newest first."""
        return await queries.list_purchases(request.user)

    @get("/{purchase_id:int}", responses=error_responses(401, 404))
    async def get_purchase(
        self, request: Request[Any, Any, Any], purchase_id: FromPath[int]
    ) -> PurchaseRead:
        """One of my purchases with its invoices (and their receipt links)."""
        return await queries.access_purchase(request.user, purchase_id)

    @get(
        "/{purchase_id:int}/invoices/{invoice_id:int}/receipt.pdf",
        media_type="application/pdf",
        responses=error_responses(401, 404, 409),
    )
    async def receipt_pdf(
        self, request: Request[Any, Any, Any], purchase_id: FromPath[int], invoice_id: FromPath[int]
    ) -> Response[bytes]:
        """The PDF receipt of a paid invoice of my purchase."""
        row = await receipts.access_receipt(request.user, purchase_id, invoice_id)
        name = receipts.receipt_number(row.platform, row.id)
        return Response(
            receipts.render_receipt(row),
            media_type="application/pdf",
            headers={
                "content-disposition": f'inline; filename="receipt-{name}.pdf"',
                "cache-control": "private, no-store",
            },
        )


class AccessController(Controller):
    path = "/api"
    tags = ["payments"]
    guards = [login_required]

    @get("/products/{product_id:int}/access", responses=error_responses(401, 404))
    async def product_access(
        self, request: Request[Any, Any, Any], product_id: FromPath[int]
    ) -> AccessRead:
        """Whether my purchases give me access to this product now, and until when."""
        return await queries.product_access(request.user, product_id)

    @get("/guilds/{slug:str}/access", responses=error_responses(401, 404))
    async def guild_access(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> AccessRead:
        """Whether my purchases give me paid access to this guild now, and until when."""
        return await queries.guild_access(request.user, slug)


class RefundAsk(msgspec.Struct, forbid_unknown_fields=True):
    purchase_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=2000)]


class RefundDecision(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RefundController(Controller):
    path = "/api/refunds"
    tags = ["refunds"]
    guards = [login_required]

    @post("/request", status_code=201, responses=error_responses(400, 401, 404, 409))
    async def request_refund(
        self, request: Request[Any, Any, Any], data: JSONBody[RefundAsk]
    ) -> RefundRead:
        """Ask for a refund of a purchase's latest payment (within 14 days)."""
        return await refunds.check_request_refund(request.user, data.purchase_id, data.reason)

    @get("/", responses=error_responses(401))
    async def my_refunds(self, request: Request[Any, Any, Any]) -> list[RefundRead]:
        return await refunds.list_for_user(request.user)


class OwnerRefundController(Controller):
    path = "/api/owner/refunds"
    tags = ["refunds"]
    guards = [roles(Role.OWNER, Role.ADMIN)]

    @get("/", responses=error_responses(401, 403))
    async def list_refunds(
        self,
        request: Request[Any, Any, Any],
        status: FromQuery[Literal["pending", "approved", "rejected"] | None] = None,
    ) -> list[RefundRead]:
        return await refunds.list_for_owner(request.user, status)

    @post(
        "/{request_id:int}/approve", status_code=200, responses=error_responses(401, 403, 404, 409)
    )
    async def approve(
        self, request: Request[Any, Any, Any], request_id: FromPath[int]
    ) -> RefundRead:
        """Refund through Stripe (idempotent) and cancel the subscription; access ends."""
        return await refunds.check_approve(request.user, request_id)

    @post(
        "/{request_id:int}/reject", status_code=200, responses=error_responses(401, 403, 404, 409)
    )
    async def reject(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[int],
        data: JSONBody[RefundDecision],
    ) -> RefundRead:
        return await refunds.check_reject(request.user, request_id, data.reason)


class CheckoutStatus(msgspec.Struct):
    confirmed: bool
    guild_slug: str | None = None


class CheckoutStatusController(Controller):
    path = "/api/payments"
    tags = ["payments"]
    guards = [login_required]

    @get("/checkout-status", responses=error_responses(400, 401))
    async def checkout_status(
        self,
        request: Request[Any, Any, Any],
        session_id: Annotated[str, QueryParameter(min_length=1, max_length=255)],
    ) -> CheckoutStatus:
        """Whether this session's payment is confirmed (read once when the page's socket
        connects, so a push sent before it connected is not missed)."""
        found = await queries.purchase_for_session(request.user, session_id)
        return CheckoutStatus(
            confirmed=found is not None, guild_slug=found.guild_slug if found else None
        )
