"""Stripe webhook endpoint: verify the signature, store the event once, queue it, answer 2xx."""
from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from server.domains.auth.guards import login_required
from server.domains.billing import queries, webhooks
from server.domains.billing.schemas import PurchaseRead
from server.domains.billing.checkout import CheckoutStarted, check_start_checkout
from server.domains.billing.schemas import WebhookAck
from server.errors import error_responses
from server.jobs import enqueue


class StripeWebhookController(Controller):
    path = "/webhooks"
    tags = ["billing"]

    @post("/stripe", status_code=200, responses=error_responses(400, 503))
    async def stripe_webhook(self, request: Request[Any, Any, Any]) -> WebhookAck:
        """Signed Stripe events; duplicates are acknowledged and ignored."""
        payload = await request.body()
        event = webhooks.verify(payload, request.headers.get("stripe-signature"))
        fresh = await webhooks.do_record_event(event, payload)
        if fresh:
            await enqueue("tasks.billing.process_stripe_event", event.id)
        return WebhookAck(received=True, duplicate=not fresh, event_id=event.id)


class CheckoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    buttonKey: str = msgspec.field(name="buttonKey")  # noqa: N815 -- the public API's name


class CheckoutController(Controller):
    path = "/api/payments"
    tags = ["payments"]
    guards = [login_required]

    @post("/checkout", status_code=200, responses=error_responses(400, 401, 404, 503))
    async def checkout(self, request: Request[Any, Any, Any],
                       data: JSONBody[CheckoutRequest]) -> CheckoutStarted:
        """Start Stripe Checkout for a payment button; answers the URL to redirect to."""
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
    async def get_purchase(self, request: Request[Any, Any, Any],
                           purchase_id: FromPath[int]) -> PurchaseRead:
        return await queries.access_purchase(request.user, purchase_id)
