"""The Socket.IO server: Redis backplane, origin check, session auth on connect."""
from __future__ import annotations

from typing import Any

import socketio
import structlog

from realtime.emitter import CHANNEL
from realtime.rooms import user_room
from server.domains.auth.queries import user_for_cookie_header
from server.domains.ops.metrics import SOCKETS
from server.domains.platforms.queries import platform_for_host
from server.settings import get_settings

log = structlog.get_logger(__name__)


def _make_server() -> socketio.AsyncServer:
    settings = get_settings()
    manager = socketio.AsyncRedisManager(settings.redis_url, channel=CHANNEL)
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        # Engine.IO refuses a handshake whose Origin is not one of ours (cross-site sockets).
        cors_allowed_origins=list(settings.allowed_origins),
        cors_credentials=True,
        ping_interval=20,
        ping_timeout=20,
        max_http_buffer_size=64 * 1024,
    )


sio = _make_server()


def origin_allowed(environ: dict[str, Any]) -> bool:
    origin = environ.get("HTTP_ORIGIN")
    return origin is None or origin.rstrip("/") in get_settings().allowed_origins


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    if not origin_allowed(environ):
        raise socketio.exceptions.ConnectionRefusedError(
            {"code": "bad_origin", "message": "Origin not allowed"})
    platform = platform_for_host(environ.get("HTTP_HOST", ""))
    user = await user_for_cookie_header(environ.get("HTTP_COOKIE", ""), platform)
    if user is None:
        raise socketio.exceptions.ConnectionRefusedError(
            {"code": "unauthorized", "message": "Sign in first"})
    await sio.save_session(sid, {"user_id": user.id, "platform": platform.value,
                                 "session_id": user.session_id})
    await sio.enter_room(sid, user_room(user.id))
    SOCKETS.inc()
    log.info("socket connected", sid=sid, user_id=user.id, platform=platform.value)


@sio.event
async def disconnect(sid: str, reason: Any = None) -> None:
    SOCKETS.dec()


# Event handlers register themselves on `sio` when imported.
from realtime import handlers  # noqa: E402,F401
