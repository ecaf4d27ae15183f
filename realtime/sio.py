"""The Socket.IO server object alone, on the Redis backplane with the fan-out engine.

The connect and event handlers (`server.sockets`) register on it; lower layers that only need
the object (room operations, disconnects) import it from here, so nothing imports the handlers.
"""

from __future__ import annotations

import socketio

from core.settings import get_settings
from realtime import presence
from realtime.emitter import CHANNEL
from realtime.fanout import FanoutRedisManager, FanoutServer


def _make_server() -> socketio.AsyncServer:
    settings = get_settings()
    manager = FanoutRedisManager(settings.redis_url, channel=CHANNEL)
    return FanoutServer(
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


async def leave_rooms(user_id: int, rooms: list[str]) -> None:
    """Take every socket of a user, on any process, out of these rooms (through the manager,
    so the Redis backplane carries it to the process that holds the socket)."""
    for sid in await presence.user_sids(user_id):
        for room in rooms:
            await sio.manager.leave_room(sid, "/", room)
