"""create_app(): the Litestar app; `asgi` mounts Socket.IO beside it in one ASGI app."""

from __future__ import annotations

import gc
from pathlib import Path

import socketio
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

import db  # noqa: F401  -- sets PICCOLO_CONF first
from core.redis import close_redis
from core.settings import get_settings
from db.engine import close_pool, open_pool
from server.body_limits import body_limits_middleware, bound_socket_payloads
from server.domains.admin.controllers import AdminUsersController
from server.domains.affiliates.controllers import (
    AffiliateLedgerController,
    OwnerAffiliateMoneyController,
    OwnerPayoutController,
    OwnerWithdrawalController,
)
from server.domains.auth.controllers import AuthController, LocaleController
from server.domains.auth.middleware import auth_middleware
from server.domains.billing.controllers import (
    AccessController,
    CheckoutController,
    CheckoutStatusController,
    OwnerRefundController,
    PurchaseController,
    RefundController,
    StripeWebhookController,
)
from server.domains.catalog.controllers import (
    ButtonConfigController,
    ButtonController,
    PlanController,
    ProductController,
)
from server.domains.chat.controllers import (
    BlockController,
    ChannelMessagesController,
    DmController,
)
from server.domains.courses.controllers import FormationController, LessonProgressController
from server.domains.guilds.controllers import (
    ChannelController,
    GuildController,
    ModerationController,
)
from server.domains.ops.controllers import OpsController
from server.domains.ops.devmail import DevMailController
from server.domains.ops.metrics import register_collectors
from server.domains.pages.controllers import PagesController
from server.domains.pages.i18n_web import configure_pages
from server.domains.tracking.controllers import (
    AffiliateDashboardController,
    OwnerAffiliatesController,
    TrackingController,
)
from server.errors import EXCEPTION_HANDLERS
from server.i18n import locale_middleware
from server.logging import configure_logging, litestar_logging, request_id_middleware
from server.ops_access import ops_access_middleware

ROOT = Path(__file__).resolve().parents[1]


class MetricsController(PrometheusController):
    path = "/metrics"


def _static_routers() -> list:
    vendor = ROOT / "node_modules" / "socket.io-client" / "dist"
    return [
        create_static_files_router(
            path="/static", directories=[ROOT / "static"], include_in_schema=False
        ),
        create_static_files_router(
            path="/vendor/socket.io", directories=[vendor], include_in_schema=False
        ),
    ]


def tune_gc() -> None:
    """Fewer, cheaper collections for a process that holds thousands of sockets.

    Profiles of bench/fanout put about half of the server's time in the cyclic collector,
    with full collections of 140-230 ms that stall every socket (the p99). Objects alive after
    start-up are frozen out of collection, and generation 0 is collected ~70x less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)


async def _startup() -> None:
    await open_pool()
    from realtime.sio import start_backplane

    start_backplane()  # the Redis listener runs from the start, so /readyz can vouch for it
    tune_gc()


async def _shutdown() -> None:
    await close_redis()
    await close_pool()


def create_app() -> Litestar:
    settings = get_settings()
    configure_logging()
    register_collectors()
    prometheus = PrometheusConfig(
        app_name="weokto",
        prefix="weokto",
        group_path=True,
        exclude=["/metrics", "/static", "/vendor"],
    )
    handlers: list = [
        OpsController,
        MetricsController,
        AuthController,
        LocaleController,
        AdminUsersController,
        GuildController,
        ModerationController,
        ChannelController,
        ChannelMessagesController,
        DmController,
        BlockController,
        StripeWebhookController,
        CheckoutController,
        CheckoutStatusController,
        PurchaseController,
        AccessController,
        RefundController,
        OwnerRefundController,
        ProductController,
        PlanController,
        ButtonController,
        ButtonConfigController,
        TrackingController,
        AffiliateDashboardController,
        OwnerAffiliatesController,
        AffiliateLedgerController,
        OwnerAffiliateMoneyController,
        OwnerPayoutController,
        OwnerWithdrawalController,
        FormationController,
        LessonProgressController,
        PagesController,
        *_static_routers(),
    ]
    if settings.is_dev:  # the mail catcher's views exist only outside production
        handlers.append(DevMailController)
    return Litestar(
        route_handlers=handlers,
        # locale_middleware after auth: the signed-in user's saved language comes first.
        # body_limits first: an oversized or too deeply nested body costs no session lookup.
        middleware=[
            body_limits_middleware,
            request_id_middleware,
            ops_access_middleware,
            prometheus.middleware,
            auth_middleware,
            locale_middleware,
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="csrftoken",
            header_name="x-csrftoken",
            cookie_secure=settings.is_production,
            cookie_samesite="lax",
            # Anchored: an unanchored pattern matched any path containing it
            # (/api/guilds/webhooks/join skipped the check). Webhooks are signed instead.
            exclude=["^/webhooks/"],
        ),
        template_config=TemplateConfig(
            directory=ROOT / "server" / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=configure_pages,
        ),
        openapi_config=OpenAPIConfig(title="WEOKTO / STAM API", version="0.1.0", path="/schema"),
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=litestar_logging(),
        on_startup=[_startup],
        on_shutdown=[_shutdown],
        debug=False,
    )


def create_asgi() -> socketio.ASGIApp:
    import server.sockets  # noqa: F401  -- registers the socket handlers on sio
    from realtime.sio import sio

    # python-socketio decodes packets itself: bound their depth there too.
    bound_socket_payloads(sio, get_settings().max_json_depth)
    # Lifespan goes to Litestar: ASGIApp's own on_startup would swallow Litestar's hooks.
    return socketio.ASGIApp(sio, other_asgi_app=create_app(), socketio_path="socket.io")


asgi = create_asgi()
