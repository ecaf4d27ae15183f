"""The fan-out engine: a room event encoded once per process, the same frame to every websocket.

Why it touches library internals: stock python-socketio 5.18 / python-engineio 4.15 create one
asyncio task per recipient per emit, and each socket's writer task wakes per packet; profiles
put most of a busy room's CPU there, not in JSON. Here:

- an event for a room is encoded once per process (`FanoutRedisManager`), and the same text
  frame is handed to each local websocket's ASGI `send`, driven inline: on uvicorn a websocket
  send completes without suspending unless the transport is paused by flow control;
- a socket whose send would block (slow reader) gets its own buffer and one task that drains it
  in order, so it never delays the others, and every later frame for it queues behind;
- every other packet for an upgraded websocket (acks, pings, single-socket emits, close) takes
  the same per-socket path, so per-socket order is kept;
- polling clients (and clients mid-upgrade) keep the library's queue and writer.

Memory per idle socket is the other cost of a big room (thousands of sockets that mostly wait):
`LeanWebSocketProtocol` (uvicorn's `--ws` class), `FanoutSocket._attach` and
`FanoutServer._handle_connect` drop what the open connection no longer needs, and one
`PingWheel` per process schedules every socket's pings.

One module per library hooked: `socketio_hooks`, `engineio_hooks`, `uvicorn_ws` (uvicorn and
websockets). The hooks are private, so at import the installed versions are compared with the
ones the engine was written against (`versions.WRITTEN_AGAINST`) and every overridden method is
looked up on its library class. On any difference the names below are python-socketio's and
uvicorn's stock classes, and the fallback is loud: a warning, `realtime_fanout_engine_active 0`
on /metrics and a `fanout` detail in /readyz (`status.ENGINE`). A hook that stops being called
at run time (a websocket found on the slow path) is reported the same way, as "degraded".
tests/realtime/test_conformance.py drives the official JavaScript client through the engine.
"""

from __future__ import annotations

from typing import Any

import socketio

from realtime.fanout import versions
from realtime.fanout.status import ENGINE, STATS, EngineStatus, FanoutStats

FanoutServer: type[socketio.AsyncServer]
FanoutManager: type[socketio.AsyncManager]
FanoutRedisManager: type[socketio.AsyncRedisManager]
LeanWebSocketProtocol: type[Any]


def _missing_hooks(hooked: tuple[tuple[type, str], ...]) -> list[str]:
    return [
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls, name in hooked
        if not callable(getattr(cls, name, None))
    ]


def _stock_ws_protocol() -> type[Any]:
    # The Procfile names this module's class for uvicorn's --ws; without the engine it must
    # still be a working protocol, the one the lean class derives from when it can.
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

        return WebSocketsSansIOProtocol
    except ImportError:
        from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

        if AutoWebSocketsProtocol is None:
            raise
        return AutoWebSocketsProtocol  # type: ignore[return-value]


def _install() -> None:
    global FanoutServer, FanoutManager, FanoutRedisManager, LeanWebSocketProtocol
    mismatches = versions.mismatches()
    reason = ""
    if mismatches:
        reason = "library versions differ from the ones the engine was written against"
    else:
        try:
            from realtime.fanout import engineio_hooks, socketio_hooks, uvicorn_ws

            missing = _missing_hooks(
                engineio_hooks.HOOKED + socketio_hooks.HOOKED + uvicorn_ws.HOOKED
            )
        except (ImportError, AttributeError) as exc:
            missing = [f"{type(exc).__name__}: {exc}"]
        if missing:
            reason = "hooked library names are missing: " + ", ".join(missing)
    if reason:
        FanoutServer = socketio.AsyncServer
        FanoutManager = socketio.AsyncManager
        FanoutRedisManager = socketio.AsyncRedisManager
        LeanWebSocketProtocol = _stock_ws_protocol()
        ENGINE.fall_back(reason, mismatches)
        return
    FanoutServer = socketio_hooks.FanoutServer
    FanoutManager = socketio_hooks.FanoutManager
    FanoutRedisManager = socketio_hooks.FanoutRedisManager
    LeanWebSocketProtocol = uvicorn_ws.LeanWebSocketProtocol


_install()

__all__ = [
    "ENGINE",
    "STATS",
    "EngineStatus",
    "FanoutManager",
    "FanoutRedisManager",
    "FanoutServer",
    "FanoutStats",
    "LeanWebSocketProtocol",
]
