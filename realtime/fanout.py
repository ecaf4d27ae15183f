"""Room broadcast that encodes an event once and writes the same frame to every local websocket.

Why this module touches library internals: stock python-socketio 5.18 / python-engineio 4.15
create one asyncio task per recipient per emit, and each socket's writer task wakes per packet;
profiles put most of a busy room's CPU there, not in JSON. Here:

- an event for a room is encoded once per process (`FanoutRedisManager`), and the same text
  frame is handed to each local websocket's ASGI `send`, driven inline: on uvicorn a websocket
  send completes without suspending unless the transport is paused by flow control;
- a socket whose send would block (slow reader) gets its own buffer and one task that drains it
  in order, so it never delays the others, and every later frame for it queues behind;
- every other packet for an upgraded websocket (acks, pings, single-socket emits, close) takes
  the same per-socket path, so per-socket order is kept;
- polling clients (and clients mid-upgrade) keep the library's queue and writer.

The hooks used are private (`AsyncServer._engineio_server_class`, engine.io's `_trigger_event`
and `AsyncSocket._websocket_handler`, the pub/sub manager's `_handle_emit`), so the versions of
python-socketio and python-engineio are pinned in pyproject.toml and
tests/realtime/test_conformance.py drives the official JavaScript client through them.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

import engineio
import socketio
from engineio import async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

try:  # the shared-frame shortcut exists only for uvicorn's websockets-sansio implementation
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover
    WebSocketsSansIOProtocol = None

# An ASGI send that has not completed: the coroutine and the future it is blocked on.
Pending = tuple[Coroutine[Any, Any, None], Any]


def _message(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        return {"type": "websocket.send", "bytes": frame, "text": None}
    return {"type": "websocket.send", "bytes": None, "text": frame}


def _start(coro: Coroutine[Any, Any, None]) -> Any:
    """Run a coroutine until it first suspends; None when it completed without suspending."""
    try:
        return coro.send(None)
    except StopIteration:
        return None


class SharedFrame:
    """One event as an engine.io text frame, and lazily as the websocket frame's wire bytes.

    A server frame is not masked, so without a negotiated extension (permessage-deflate keeps a
    compression context per connection) its bytes are the same for every recipient.
    """

    __slots__ = ("text", "_wire")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False)
        return self._wire


def _shared_frame_target(send: Any) -> Any:
    """uvicorn's websockets-sansio protocol behind an ASGI send, when frames can be shared."""
    proto = getattr(send, "__self__", None)
    if (WebSocketsSansIOProtocol is not None and type(proto) is WebSocketsSansIOProtocol
            and not proto.conn.extensions):
        return proto
    return None


class FanoutStats:
    """Recipients by delivery path, per process (exported as metrics): shared wire bytes,
    an ASGI send per socket, the library's own path; and sends that blocked."""

    shared = 0
    inline = 0
    fallback = 0
    blocked = 0


STATS = FanoutStats()


class Corked:
    """The sockets holding corked shared frames, written out together by one loop callback.

    The callback runs at the end of the current loop pass, or, right after a flush that itself
    took a while (a large room: one write per socket), after a delay as long as that flush,
    capped at MAX_DELAY_S: a busy server then gathers the events that arrive meanwhile and
    writes each socket once for all of them instead of once per event, bounding the added
    latency to the time it was about to spend writing anyway.
    """

    MAX_DELAY_S = 0.005
    MIN_DELAY_S = 0.001  # below this a timer costs more than it saves

    def __init__(self) -> None:
        self._sockets: list[FanoutSocket] = []
        self._last_flush_s = 0.0

    def add(self, sock: FanoutSocket) -> None:
        if not self._sockets:
            loop = asyncio.get_running_loop()
            delay = min(self._last_flush_s, self.MAX_DELAY_S)
            if delay < self.MIN_DELAY_S:
                loop.call_soon(self.flush)
            else:
                loop.call_later(delay, self.flush)
        self._sockets.append(sock)

    def flush(self) -> None:
        started = time.perf_counter()
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock._uncork()
            except Exception:  # one broken transport must not keep the others' frames
                sock._fail()
        self._last_flush_s = time.perf_counter() - started


_CORKED = Corked()


class FanoutSocket(async_socket.AsyncSocket):
    """An engine.io socket that, once on websocket, writes frames inline in order."""

    _send: Any = None  # the ASGI send of the websocket, set once the upgrade is complete
    _proto: Any = None  # uvicorn's protocol object when shared frame bytes may be written to it
    _backlog: deque[str | bytes] | None = None  # frames waiting behind a blocked send
    _drainer: asyncio.Task[None] | None = None
    _dead = False  # a write failed or the websocket ended: drop further frames
    _corked: list[SharedFrame] | None = None  # shared frames taken in this loop pass

    @property
    def fast(self) -> bool:
        return self._send is not None and not self._dead

    def _shared_ok(self) -> bool:
        proto = self._proto
        return not (proto is None or self._drainer is not None or self._dead
                    or proto.close_sent or proto.disconnected or not proto.writable.is_set()
                    or proto.conn.state is not OPEN or proto.conn.expect_continuation_frame
                    or proto.transport.is_closing())

    def write_shared(self, frame: SharedFrame) -> bool:
        """Take the frame's shared bytes for this socket when nothing is pending; True if taken.

        This is what uvicorn's send does for a text frame, minus the framing (done once per
        event instead of once per socket) and the coroutine. The bytes are corked until the
        end of the event loop's current pass: events that arrive together (a busy room) then
        leave in one write per socket instead of one each. Any other write to this socket
        uncorks first, so per-socket order holds.
        """
        if self._corked is not None:
            self._corked.append(frame)
            return True
        if not self._shared_ok():
            return False
        self._corked = [frame]
        _CORKED.add(self)
        return True

    def _uncork(self) -> None:
        frames, self._corked = self._corked, None
        if not frames:
            return
        proto = self._proto
        # Checked when corked; within one loop pass only a close can have intervened. A pause
        # (flow control) is advisory: the transport buffers what it is given.
        if not (self._dead or proto.close_sent or proto.transport.is_closing()):
            data = frames[0].wire if len(frames) == 1 else b"".join(f.wire for f in frames)
            proto.transport.write(data)
        else:  # closed or paused meanwhile: the per-socket path decides
            for frame in frames:
                self.write(frame.text)

    def write(self, frame: str | bytes) -> None:
        """Write one encoded engine.io frame now, or queue it behind a blocked write."""
        if self._corked:
            self._uncork()
        if self._dead:
            return
        if self._drainer is not None:
            self._backlog.append(frame)  # type: ignore[union-attr]
            return
        coro = self._send(_message(frame))
        try:
            blocked = _start(coro)
        except Exception:
            self._fail()
            return
        if blocked is not None:
            STATS.blocked += 1
            self._backlog = deque()
            self._drainer = asyncio.ensure_future(self._drain((coro, blocked)))

    async def _drain(self, pending: Pending) -> None:
        """Finish the blocked send, then write the backlog in order (this socket only)."""
        coro, blocked = pending
        try:
            while blocked is not None:
                try:
                    await blocked
                except Exception:  # the send reads the outcome itself when resumed
                    pass
                blocked = _start(coro)
            while self._backlog:
                await self._send(_message(self._backlog.popleft()))
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:
            self._fail()
        finally:
            self._drainer = None

    def _fail(self) -> None:
        # The reader loop sees the closed websocket and runs the library's disconnect.
        if not self._dead:
            self._dead = True
            self.server.start_background_task(self._close_ws)

    async def _close_ws(self) -> None:
        try:
            await self._send({"type": "websocket.close"})
        except Exception:
            pass

    async def send(self, pkt: eio_packet.Packet) -> None:
        if self._send is None:
            return await super().send(pkt)
        if self._dead or not await self.check_ping_timeout():
            return
        self.write(pkt.encode())
        if pkt.packet_type == eio_packet.CLOSE:
            await self._flush_then_close()

    async def _flush_then_close(self) -> None:
        drainer = self._drainer
        if drainer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(drainer), self.server.ping_timeout)
            except Exception:
                pass
        self._fail()

    def schedule_ping(self) -> None:
        # The library starts a task per socket that sleeps until the next ping; a timer handle
        # costs a fraction of its memory, and on websocket the ping is written inline.
        if self.last_ping:
            self.last_ping = None
            asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        pkt = eio_packet.Packet(eio_packet.PING)
        if self._send is not None:
            self.write(pkt.encode())
        else:  # polling: the library's queue
            self.server.start_background_task(self.send, pkt)

    def _attach(self, ws: Any) -> None:
        """Switch to inline writes; packets queued before the upgrade go first."""
        self._send = ws.asgi_send
        self._proto = _shared_frame_target(self._send)
        while True:
            try:
                pkt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            self.queue.task_done()
            if pkt is not None:
                self.write(pkt.encode())

    async def _detach(self) -> None:
        self._dead = True
        if self._drainer is not None:
            self._drainer.cancel()
            try:
                await self._drainer
            except BaseException:
                pass

    async def _websocket_handler(self, ws: Any) -> None:
        """python-engineio 4.15.1's handler, with the writer task replaced by inline writes."""
        async def websocket_wait() -> Any:
            data = await ws.wait()
            if data and len(data) > self.server.max_http_buffer_size:
                raise ValueError("packet is too large")
            return data

        if self.connected:
            if not await self._upgrade_handshake(websocket_wait, ws):
                return
        else:
            self.connected = True
            self.upgraded = True
        self._attach(ws)
        idle_limit = self.server.ping_interval + self.server.ping_timeout
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for wraps each read in a Task,
                # a cost per message and a Task kept per idle socket.
                async with asyncio.timeout(idle_limit):
                    p = await websocket_wait()
            except BaseException:
                break
            if p is None:
                break
            try:
                await self.receive(eio_packet.Packet(encoded_packet=p))
            except eio_exceptions.UnknownPacketError:
                pass
            except eio_exceptions.SocketIsClosedError:
                break
            except Exception:
                self.server.logger.exception("Unknown receive error")
        await self._detach()
        await ws.close()
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _upgrade_handshake(self, websocket_wait: Any, ws: Any) -> bool:
        """Polling -> websocket upgrade (probe ping/pong, then UPGRADE), as the library does."""
        self.upgrading = True  # hold packet sends during the upgrade
        try:
            pkt = eio_packet.Packet(encoded_packet=await websocket_wait())
        except OSError:
            self.upgrading = False
            return False
        if pkt.packet_type != eio_packet.PING or pkt.data != "probe":
            self.upgrading = False
            return False
        await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
        await self.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end the pending poll
        try:
            pkt = eio_packet.Packet(encoded_packet=await websocket_wait())
        except OSError:
            self.upgrading = False
            return False
        self.upgrading = False
        if pkt.packet_type != eio_packet.UPGRADE:
            self.upgraded = False
            return False
        self.upgraded = True
        return True


class FanoutEngine(engineio.AsyncServer):
    """engine.io server whose sockets are FanoutSockets."""

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        # engine.io builds AsyncSocket directly and fires 'connect' right after storing it:
        # the earliest point to give the socket our class (nothing has been written yet).
        if event == "connect":
            sock = self.sockets.get(args[0])
            if sock is not None and type(sock) is async_socket.AsyncSocket:
                sock.__class__ = FanoutSocket
        return await super()._trigger_event(event, *args, **kwargs)


class FanoutServer(socketio.AsyncServer):
    """Socket.IO server on the FanoutEngine."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return FanoutEngine


def encode_frame(server: socketio.AsyncServer, event: str, data: list[Any],
                 namespace: str) -> SharedFrame | None:
    """The engine.io text frame of an event, or None when it carries binary attachments."""
    encoded = server.packet_class(sio_packet.EVENT, namespace=namespace,
                                  data=[event, *data]).encode()
    if isinstance(encoded, list):
        return None
    return SharedFrame("4" + encoded)


class LocalFanout:
    """The local half of a manager's emit: one encode, inline writes, the library for the rest."""

    server: socketio.AsyncServer
    rooms: dict[str, Any]
    get_participants: Any

    async def fanout(self, event: str, data: Any, namespace: str, room: Any,
                     skip_sid: Any) -> None:
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
            if (frame is not None and type(sock) is FanoutSocket and sock._send is not None
                    and not sock._dead and not sock.closing and not sock.closed
                    and not (sock.last_ping and now - sock.last_ping > timeout)):
                if sock.write_shared(frame):
                    shared += 1
                else:
                    sock.write(frame.text)
                    inline += 1
            else:  # polling, mid-upgrade, binary or overdue ping: the library's own path
                slow.append(eio_sid)
        STATS.shared += shared
        STATS.inline += inline
        if slow:
            STATS.fallback += len(slow)
            await self._send_slow(slow, frame, event, args, namespace)

    async def _send_slow(self, eio_sids: list[str], frame: SharedFrame | None, event: str,
                         args: list[Any], namespace: str) -> None:
        if frame is not None:  # already encoded: the Socket.IO packet is the frame minus "4"
            parts: list[Any] = [frame.text[1:]]
        else:  # binary attachments: the library's encoding, in several parts
            parts = self.server.packet_class(sio_packet.EVENT, namespace=namespace,
                                             data=[event, *args]).encode()
        eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
        for eio_sid in eio_sids:
            for p in eio_pkts:
                await self.server._send_eio_packet(eio_sid, p)


class FanoutManager(LocalFanout, socketio.AsyncManager):
    """Single-process manager (no backplane) with the encode-once fan-out."""

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None,
                   skip_sid: Any = None, callback: Any = None, to: Any = None,
                   **kwargs: Any) -> None:
        if callback is not None:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                      callback=callback, to=to, **kwargs)
        await self.fanout(event, data, namespace or "/", to or room, skip_sid)


class FanoutRedisManager(LocalFanout, socketio.AsyncRedisManager):
    """Redis backplane whose local delivery (own emits and each published event, decoded once
    per process) is the encode-once fan-out."""

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        # The library's handler minus its per-recipient tasks; callbacks and binary keep its path.
        if message.get("callback") is not None or message.get("binary"):
            return await super()._handle_emit(message)
        data = message["data"]  # the publisher always sends the argument list
        await self.fanout(message["event"], tuple(data) if isinstance(data, list) else data,
                          message.get("namespace") or "/", message.get("room"),
                          message.get("skip_sid"))
