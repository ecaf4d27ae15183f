"""The engine's Socket.IO part: a server on the FanoutEngine and managers that encode once.

Hooks python-socketio 5.18.1: `AsyncServer._engineio_server_class` and `_handle_connect`,
`_send_eio_packet`, the managers' `emit`, `get_participants` and `rooms`, and the pub/sub
manager's `_handle_emit`.
"""

from __future__ import annotations

import time
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from realtime.fanout.engineio_hooks import FanoutEngine, FanoutSocket
from realtime.fanout.status import ENGINE, STATS
from realtime.fanout.uvicorn_ws import SharedFrame

HOOKED = (
    (socketio.AsyncServer, "_engineio_server_class"),
    (socketio.AsyncServer, "_handle_connect"),
    (socketio.AsyncServer, "_send_eio_packet"),
    (socketio.AsyncManager, "get_participants"),
    (socketio.AsyncManager, "emit"),
    (socketio.AsyncRedisManager, "_handle_emit"),
)


class FanoutServer(socketio.AsyncServer):
    """Socket.IO server on the FanoutEngine."""

    # What a connection's environ keeps once its connect handler has accepted it (see
    # `_handle_connect`): the request line, the peer and the headers worth logging.
    KEPT_ENVIRON = (
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "HTTP_HOST",
        "HTTP_ORIGIN",
        "HTTP_USER_AGENT",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.eio, FanoutEngine):
            ENGINE.hook_missed("socketio.AsyncServer._engineio_server_class was not called")

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return FanoutEngine

    async def _handle_connect(self, eio_sid: str, namespace: str, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        ns = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        if sid is not None and self.manager.is_connected(sid, ns):
            self._trim_environ(eio_sid)

    def _trim_environ(self, eio_sid: str) -> None:
        """Release the handshake request an accepted connection no longer needs.

        engine.io's environ holds every header decoded, the ASGI callables and an input
        object whose class is built per request (about 5 KB in all), and the ASGI scope it
        points to keeps the raw header list: all alive for the connection's life. The connect
        handler has read them (cookie, origin, host); `get_environ` keeps KEPT_ENVIRON. Only
        the default namespace is served here, so no later namespace connect needs the rest.
        """
        environ = self.environ.get(eio_sid)
        if not environ or "asgi.scope" not in environ:
            return
        scope = environ["asgi.scope"]
        kept = {k: environ[k] for k in self.KEPT_ENVIRON if k in environ}
        environ.clear()  # in place: engine.io's frames above the websocket reader hold it too
        environ.update(kept)
        if scope.get("type") == "websocket":
            scope["headers"] = []


def encode_frame(
    server: socketio.AsyncServer, event: str, data: list[Any], namespace: str
) -> SharedFrame | None:
    """The engine.io text frame of an event, or None when it carries binary attachments."""
    encoded = server.packet_class(
        sio_packet.EVENT, namespace=namespace, data=[event, *data]
    ).encode()
    if isinstance(encoded, list):
        return None
    return SharedFrame("4" + encoded)


def _missed_hook(sock: Any) -> str | None:
    """Why a socket that should be on the inline path is not, when a hook was not called.

    Polling, mid-upgrade and closing sockets take the library's path by design; a websocket
    there means the libraries stopped calling the engine, which would otherwise only show as
    a slower server.
    """
    if sock is None or sock.closing or sock.closed:
        return None
    if type(sock) is not FanoutSocket:
        return "engine.io sockets keep the library's class (_trigger_event hook not called)"
    if sock.upgraded and sock._send is None and not sock._dead:
        return "websockets write through the library (_websocket_handler hook not called)"
    return None


class LocalFanout:
    """The local half of a manager's emit: one encode, inline writes, the library for the rest."""

    server: socketio.AsyncServer
    rooms: dict[str, Any]
    get_participants: Any

    async def fanout(self, event: str, data: Any, namespace: str, room: Any, skip_sid: Any) -> None:
        if namespace not in self.rooms:
            return
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        frame = encode_frame(self.server, event, args, namespace)
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        slow = []
        sockets = self.server.eio.sockets
        now = time.time()
        timeout = self.server.eio.ping_timeout
        shared = inline = 0
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if (
                frame is not None
                and type(sock) is FanoutSocket
                and sock._send is not None
                and not sock._dead
                and not sock.closing
                and not sock.closed
                and not (sock.last_ping and now - sock.last_ping > timeout)
            ):
                if sock.write_shared(frame):
                    shared += 1
                else:
                    sock.write(frame.text)
                    inline += 1
            else:  # polling, mid-upgrade, binary or overdue ping: the library's own path
                slow.append(eio_sid)
                missed = _missed_hook(sock)
                if missed is not None:
                    STATS.hook_misses += 1
                    ENGINE.hook_missed(missed)
        STATS.shared += shared
        STATS.inline += inline
        if slow:
            STATS.fallback += len(slow)
            await self._send_slow(slow, frame, event, args, namespace)

    async def _send_slow(
        self,
        eio_sids: list[str],
        frame: SharedFrame | None,
        event: str,
        args: list[Any],
        namespace: str,
    ) -> None:
        if frame is not None:  # already encoded: the Socket.IO packet is the frame minus "4"
            parts: list[Any] = [frame.text[1:]]
        else:  # binary attachments: the library's encoding, in several parts
            parts = self.server.packet_class(
                sio_packet.EVENT, namespace=namespace, data=[event, *args]
            ).encode()
        eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
        for eio_sid in eio_sids:
            for p in eio_pkts:
                await self.server._send_eio_packet(eio_sid, p)


class FanoutManager(LocalFanout, socketio.AsyncManager):
    """Single-process manager (no backplane) with the encode-once fan-out."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            return await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
        await self.fanout(event, data, namespace or "/", to or room, skip_sid)


class FanoutRedisManager(LocalFanout, socketio.AsyncRedisManager):
    """Redis backplane whose local delivery (own emits and each published event, decoded once
    per process) is the encode-once fan-out."""

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        # The library's handler minus its per-recipient tasks; callbacks and binary keep its path.
        if message.get("callback") is not None or message.get("binary"):
            return await super()._handle_emit(message)
        data = message["data"]  # the publisher always sends the argument list
        await self.fanout(
            message["event"],
            tuple(data) if isinstance(data, list) else data,
            message.get("namespace") or "/",
            message.get("room"),
            message.get("skip_sid"),
        )
