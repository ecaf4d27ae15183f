"""The emulator as an ASGI app: Litestar routes behind the auth and idempotency layers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.types import ASGIApp, Receive, Scope, Send

from devtools.stripe_emulator.errors import StripeError
from devtools.stripe_emulator.middleware import AuthMiddleware, IdempotencyMiddleware
from devtools.stripe_emulator.routes import (
    catalog,
    checkout,
    customers,
    disputes,
    emulator,
    events,
    page,
    payments,
    subscriptions,
)
from devtools.stripe_emulator.store import Store
from devtools.stripe_emulator.webhooks import Deliverer, WebhookConfig

log = logging.getLogger("stripe_emulator")
ROUTE_MODULES = (
    customers,
    catalog,
    checkout,
    subscriptions,
    payments,
    disputes,
    events,
    emulator,
    page,
)


@dataclass
class EmulatorConfig:
    public_url: str  # base of hosted checkout URLs, as the browser reaches the emulator
    data_dir: Path | None = None
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)


def _stripe_error(_request: Request[Any, Any, Any], exc: StripeError) -> Response[bytes]:
    return Response(exc.payload(), status_code=exc.status, media_type="application/json")


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, NotFoundException) or exc.status_code == 405:
        message = f"Unrecognized request URL ({request.method}: {request.url.path})."
        return _stripe_error(request, StripeError(404, "invalid_request_error", message))
    return _stripe_error(
        request, StripeError(exc.status_code, "invalid_request_error", str(exc.detail))
    )


def _crash(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("emulator bug on %s %s", request.method, request.url.path, exc_info=exc)
    return _stripe_error(
        request, StripeError(500, "api_error", f"Emulator error: {type(exc).__name__}: {exc}")
    )


class EmulatorApp:
    """The ASGI callable: also exposes the store and deliverer so tests can start it in-process."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.store = Store(config.data_dir)
        self.deliverer = Deliverer(config.webhooks)
        self.store.sinks.append(self.deliverer.enqueue)
        self.idempotency: IdempotencyMiddleware
        litestar_app = Litestar(
            route_handlers=[handler for module in ROUTE_MODULES for handler in module.HANDLERS],
            exception_handlers={
                StripeError: _stripe_error,
                HTTPException: _http_error,
                Exception: _crash,
            },
            lifespan=[self._lifespan],
            logging_config=None,
            openapi_config=None,
        )
        litestar_app.state.store = self.store
        litestar_app.state.deliverer = self.deliverer
        litestar_app.state.public_url = config.public_url.rstrip("/")
        litestar_app.state.on_reset = self._on_reset
        self.idempotency = IdempotencyMiddleware(litestar_app)
        self._asgi: ASGIApp = AuthMiddleware(self.idempotency)

    def _on_reset(self) -> None:
        self.idempotency.clear()

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        await self.deliverer.start()
        saver = asyncio.create_task(self.store.autosave())
        try:
            yield
        finally:
            saver.cancel()
            await self.deliverer.stop()
            self.store.save_if_dirty()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def create_app(config: EmulatorConfig) -> EmulatorApp:
    return EmulatorApp(config)
