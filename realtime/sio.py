"""The Socket.IO server object alone, on the Redis backplane with the fan-out engine.

The manager is the fan-out engine's Redis manager with the backplane's listener
(`realtime.backplane`): back within a second of Redis answering, and a resync for local sockets.

The connect and event handlers (`server.sockets`) register on it; lower layers that only need
the object (room operations, disconnects) import it from here, so nothing imports the handlers.
"""

from __future__ import annotations

import socketio

from core.redis import backplane_channel
from core.settings import get_settings
from realtime.backplane import ListenerStatus, listening_manager
from realtime.fanout import FanoutRedisManager, FanoutServer


def make_manager(redis_url: str) -> socketio.AsyncRedisManager:
    """The backplane: the fan-out engine's Redis manager with the quick listener."""
    return listening_manager(FanoutRedisManager)(redis_url, channel=backplane_channel(redis_url))


def make_server(manager: socketio.AsyncManager) -> socketio.AsyncServer:
    settings = get_settings()
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


sio = make_server(make_manager(get_settings().redis_url))


def start_backplane() -> None:
    """Start the Redis listener with the process, so /readyz covers it from the start
    (python-socketio would start it with the first socket)."""
    if not sio.manager_initialized:
        sio.manager_initialized = True
        sio.manager.initialize()


def backplane_status() -> ListenerStatus:
    status: ListenerStatus = sio.manager.status
    return status
