"""Socket connect and disconnect: origin check, session auth, rooms and presence."""

from __future__ import annotations

from typing import Any

import socketio
import structlog

from core.settings import get_settings
from realtime import presence, revoke
from realtime.rooms import guild_room, session_room, user_room
from realtime.sio import sio
from server.domains.auth.queries import user_for_cookie_header
from server.domains.guilds.events import publish_presence
from server.domains.guilds.queries import user_guild_ids
from server.domains.ops.metrics import SOCKETS
from server.domains.platforms.queries import platform_for_host

log = structlog.get_logger(__name__)

# This process's sockets (sid -> user id, sid -> session id), refreshed in Redis by the
# heartbeat: presence finds a user's sockets, realtime.revoke a session's.
LOCAL: dict[str, int] = {}
LOCAL_SESSIONS: dict[str, str] = {}
_heartbeat_started = False


def origin_allowed(environ: dict[str, Any]) -> bool:
    origin = environ.get("HTTP_ORIGIN")
    return origin is None or origin.rstrip("/") in get_settings().allowed_origins


async def _heartbeat() -> None:
    while True:
        await sio.sleep(presence.HEARTBEAT_S)
        try:
            await presence.refresh(dict(LOCAL))
            await revoke.refresh(dict(LOCAL_SESSIONS))
        except Exception:  # Redis down: retry at the next beat
            log.warning("presence heartbeat failed", exc_info=True)


def _ensure_heartbeat() -> None:
    global _heartbeat_started
    if not _heartbeat_started:
        _heartbeat_started = True
        sio.start_background_task(_heartbeat)


def _refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    # Two arguments: the client's connect_error gets err.message = message, err.data = {code...}
    # (a single dict argument would reach it only as its Python repr in err.message).
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message})


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    if not origin_allowed(environ):
        raise _refused("bad_origin", "Origin not allowed")
    platform = platform_for_host(environ.get("HTTP_HOST", ""))
    user = await user_for_cookie_header(environ.get("HTTP_COOKIE", ""), platform)
    if user is None:
        raise _refused("unauthorized", "Sign in first")
    await sio.save_session(
        sid, {"user_id": user.id, "platform": platform.value, "session_id": user.session_id}
    )
    # Registered before the rooms are entered and checked after (realtime.revoke.is_revoked):
    # a logout or suspension committing meanwhile either finds this socket or is seen here.
    await revoke.register(sid, user.session_id)
    await sio.enter_room(sid, user_room(user.id))
    await sio.enter_room(sid, session_room(user.session_id))
    guild_ids = await user_guild_ids(user.id)
    for guild_id in guild_ids:
        await sio.enter_room(sid, guild_room(guild_id))
    if await revoke.is_revoked(user.session_id):
        await revoke.unregister(sid, user.session_id)
        raise _refused("unauthorized", "Sign in first")
    LOCAL[sid] = user.id
    LOCAL_SESSIONS[sid] = user.session_id
    SOCKETS.inc()
    _ensure_heartbeat()
    if await presence.connect(user.id, sid):
        await publish_presence(guild_ids, user.id, "online")


@sio.event
async def disconnect(sid: str, reason: Any = None) -> None:
    SOCKETS.dec()
    user_id = LOCAL.pop(sid, None)
    session_id = LOCAL_SESSIONS.pop(sid, None)
    if session_id is not None:
        await revoke.unregister(sid, session_id)
    if user_id is not None and await presence.disconnect(user_id, sid):
        await publish_presence(await user_guild_ids(user_id), user_id, "offline")
