"""Owner catalog endpoints and the public button configuration."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from server.domains.auth.guards import roles
from server.domains.auth.schemas import Role
from server.domains.catalog import actions, queries
from server.domains.catalog.schemas import (
    ButtonConfig,
    ButtonCreate,
    ButtonRead,
    ButtonUpdate,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    ProductCreate,
    ProductRead,
    ProductUpdate,
)
from server.domains.platforms.deps import platform_of
from server.errors import error_responses

SELLERS = roles(Role.OWNER, Role.PRODUCT_MANAGER, Role.ADMIN)
ERRORS = error_responses(400, 401, 403, 404, 409)
ProductFilter = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]


class ProductController(Controller):
    path = "/api/owner/products"
    tags = ["catalog"]
    guards = [SELLERS]

    @get("/", responses=ERRORS)
    async def list_products(self, request: Request[Any, Any, Any]) -> list[ProductRead]:
        return await queries.list_products(request.user)

    @post("/", responses=ERRORS)
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[ProductCreate]
    ) -> ProductRead:
        """Create a product (mirrored to a Stripe Product by a worker)."""
        return await actions.check_create_product(request.user, data)

    @patch("/{product_id:int}", responses=ERRORS)
    async def update(
        self,
        request: Request[Any, Any, Any],
        product_id: FromPath[int],
        data: JSONBody[ProductUpdate],
    ) -> ProductRead:
        return await actions.check_update_product(request.user, product_id, data)


class PlanController(Controller):
    path = "/api/owner/plans"
    tags = ["catalog"]
    guards = [SELLERS]

    @get("/", responses=ERRORS)
    async def list_plans(
        self, request: Request[Any, Any, Any], product_id: ProductFilter = None
    ) -> list[PlanRead]:
        return await queries.list_plans(request.user, product_id)

    @post("/", responses=ERRORS)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[PlanCreate]) -> PlanRead:
        """Create a pricing plan in integer cents (mirrored to a Stripe Price by a worker)."""
        return await actions.check_create_plan(request.user, data)

    @patch("/{plan_id:int}", responses=ERRORS)
    async def update(
        self, request: Request[Any, Any, Any], plan_id: FromPath[int], data: JSONBody[PlanUpdate]
    ) -> PlanRead:
        return await actions.check_update_plan(request.user, plan_id, data)


class ButtonController(Controller):
    path = "/api/owner/payment-buttons"
    tags = ["catalog"]
    guards = [SELLERS]

    @get("/", responses=ERRORS)
    async def list_buttons(self, request: Request[Any, Any, Any]) -> list[ButtonRead]:
        return await queries.list_buttons(request.user)

    @post("/", responses=ERRORS)
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[ButtonCreate]
    ) -> ButtonRead:
        """Create a payment button; the answer carries the snippet for a landing page."""
        return await actions.check_create_button(request.user, data)

    @patch("/{button_id:int}", responses=ERRORS)
    async def update(
        self,
        request: Request[Any, Any, Any],
        button_id: FromPath[int],
        data: JSONBody[ButtonUpdate],
    ) -> ButtonRead:
        return await actions.check_update_button(request.user, button_id, data)


class ButtonConfigController(Controller):
    path = "/api/payments"
    tags = ["payments"]

    @get("/button-config", responses=error_responses(400, 404))
    async def button_config(
        self,
        request: Request[Any, Any, Any],
        key: Annotated[str, QueryParameter(min_length=1, max_length=64)],
    ) -> ButtonConfig:
        """What a landing page needs to show a button (404 when unknown or inactive)."""
        return await queries.button_config(platform_of(request), key)
