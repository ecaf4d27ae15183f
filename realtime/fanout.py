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

The hooks used are private (`AsyncServer._engineio_server_class` and `_handle_connect`,
engine.io's `_trigger_event` and `AsyncSocket._websocket_handler`, the pub/sub manager's
`_handle_emit`, uvicorn's websockets-sansio protocol attributes), so python-socketio,
python-engineio, uvicorn and websockets are pinned in pyproject.toml;
tests/realtime/test_conformance.py drives the official JavaScript client through them and
tests/realtime/test_lean_socket.py serves real websockets through the lean protocol.

Memory per idle socket is the other cost of a big room (thousands of sockets that mostly wait).
An open websocket otherwise keeps: asyncio queues and events (each holds a deque of about 760 B)
in uvicorn's protocol and in engine.io's socket, its handshake request three times over
(websockets' Request, the ASGI scope's header list, engine.io's environ with a class built per
request), a timer handle per socket for the next ping and another per read for the idle limit.
`LeanWebSocketProtocol` (uvicorn's `--ws` class), `FanoutSocket._attach` and
`FanoutServer._handle_connect` drop what the open connection no longer needs, and one
`PingWheel` per process schedules every socket's pings.
"""

from __future__ import annotations

import asyncio
import math
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
    if (
        WebSocketsSansIOProtocol is not None
        and type(proto) in (WebSocketsSansIOProtocol, LeanWebSocketProtocol)
        and not proto.conn.extensions
    ):
        return proto
    return None


class _Waiters:
    """Futures of the coroutines waiting on a lean queue or flag; the list exists only while
    someone waits (an asyncio primitive keeps a deque of about 760 B per instance)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(waiter)

    def _wake(self, every: bool) -> None:
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(None)
                if not every:
                    return


class LeanQueue(_Waiters):
    """The part of asyncio.Queue uvicorn's websocket protocol uses (put_nowait, get, empty),
    without three deques and an Event per connection. Unbounded, like the queue it replaces."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake(every=False)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> Any:
        while not self._items:
            await self._wait()
        return self._items.pop(0)  # a handful at most: uvicorn pauses reading per message


class LeanEvent(_Waiters):
    """asyncio.Event without its deque: uvicorn's `writable` flag (set nearly always)."""

    __slots__ = ("_set",)

    def __init__(self, value: bool = False) -> None:
        super().__init__()
        self._set = value

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        self._wake(every=True)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if not self._set:
            await self._wait()
        return True


_BaseProtocol: Any = WebSocketsSansIOProtocol if WebSocketsSansIOProtocol is not None else object


class LeanWebSocketProtocol(_BaseProtocol):
    """uvicorn's websockets-sansio protocol (`--ws realtime.fanout:LeanWebSocketProtocol`) with
    less kept per open connection: a lean receive queue and writable flag, and the handshake's
    request headers and response released once the 101 is written (websockets' parser keeps
    the Request object for the connection's life; its headers are what weigh)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LeanQueue()
        self.writable = LeanEvent(True)

    def start_keepalive(self) -> None:
        # Called once, right after the 101 response went out: nothing reads them afterwards.
        request = getattr(self, "request", None)
        if request is not None:
            request.headers.clear()
            self.request = None
        self.response = None
        super().start_keepalive()


class _Detached:
    """Stands in for engine.io's per-socket queue once the socket writes inline (FanoutSocket
    never queues after that); `close(wait=True)` still joins it."""

    __slots__ = ()

    async def join(self) -> None:
        return None

    def qsize(self) -> int:
        return 0

    def get_nowait(self) -> Any:
        raise asyncio.QueueEmpty

    def task_done(self) -> None:
        return None

    def put_nowait(self, item: Any) -> None:
        raise RuntimeError("this socket writes inline; nothing may be queued after the upgrade")

    async def put(self, item: Any) -> None:
        self.put_nowait(item)


_DETACHED = _Detached()


class PingWheel:
    """Every socket's next engine.io ping, in one-second buckets served by one timer per
    process, instead of a timer handle (and a context copy) per socket. A ping leaves up to a
    second late, well inside the client's allowance (ping interval + ping timeout)."""

    def __init__(self) -> None:
        self._buckets: dict[int, list[FanoutSocket]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sock: FanoutSocket, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests): the old one's buckets are void
            self._buckets, self._loop, self._timer = {}, loop, None
        slot = math.ceil(loop.time() + delay)
        bucket = self._buckets.get(slot)
        if bucket is None:
            self._buckets[slot] = bucket = []
        bucket.append(sock)
        if self._timer is None or slot < self._timer.when():
            self._arm(slot)

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(slot, self._tick)  # type: ignore[union-attr]

    def _tick(self) -> None:
        self._timer = None
        now = self._loop.time()  # type: ignore[union-attr]
        for slot in [s for s in self._buckets if s <= now]:
            for sock in self._buckets.pop(slot):
                try:
                    sock._ping_due()
                except Exception:  # one broken socket must not cost the others their ping
                    sock._fail()
        if self._buckets:
            self._arm(min(self._buckets))

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets.values())


_PINGS = PingWheel()


class FanoutStats:
    """Recipients by delivery path, per process (exported as metrics): shared wire bytes,
    an ASGI send per socket, the library's own path; and sends that blocked."""

    shared = 0
    inline = 0
    fallback = 0
    blocked = 0
    overflowed = 0  # sockets closed because too much waited behind a blocked send


STATS = FanoutStats()


class Corked:
    """The sockets holding corked shared frames, written out together by one loop callback.

    The callback runs at the end of the current loop pass. When the server is busy writing (the
    last flush took a while, a large room being one write per socket, and ended less than that
    long ago), it runs after a delay as long as that flush, capped at MAX_DELAY_S: the events
    that arrive meanwhile are gathered and each socket is written once for all of them instead
    of once per event, bounding the added latency to the time it was about to spend writing
    anyway. An event after a quiet spell is written at once: there is nothing to gather.
    """

    MAX_DELAY_S = 0.005
    MIN_DELAY_S = 0.001  # below this a timer costs more than it saves

    def __init__(self) -> None:
        self._sockets: list[FanoutSocket] = []
        self._last_flush_s = 0.0
        self._last_flush_end = 0.0  # time.perf_counter() when the last flush ended

    def add(self, sock: FanoutSocket) -> None:
        if not self._sockets:
            loop = asyncio.get_running_loop()
            busy = time.perf_counter() - self._last_flush_end < self._last_flush_s
            delay = min(self._last_flush_s, self.MAX_DELAY_S) if busy else 0.0
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
        self._last_flush_end = time.perf_counter()
        self._last_flush_s = self._last_flush_end - started


_CORKED = Corked()


class FanoutSocket(async_socket.AsyncSocket):
    """An engine.io socket that, once on websocket, writes frames inline in order."""

    # A socket with this much waiting behind a blocked send is too slow for its rooms: it is
    # closed, and its client reconnects and catches up by seq (instead of the server holding an
    # ever longer backlog until the ping timeout).
    MAX_BACKLOG_BYTES = 1 << 20

    _send: Any = None  # the ASGI send of the websocket, set once the upgrade is complete
    _proto: Any = None  # uvicorn's protocol object when shared frame bytes may be written to it
    _backlog: deque[str | bytes] | None = None  # frames waiting behind a blocked send
    _backlog_bytes = 0
    _drainer: asyncio.Task[None] | None = None
    _dead = False  # a write failed or the websocket ended: drop further frames
    _corked: list[SharedFrame] | None = None  # shared frames taken in this loop pass

    @property
    def fast(self) -> bool:
        return self._send is not None and not self._dead

    def _shared_ok(self) -> bool:
        proto = self._proto
        return not (
            proto is None
            or self._drainer is not None
            or self._dead
            or proto.close_sent
            or proto.disconnected
            or not proto.writable.is_set()
            or proto.conn.state is not OPEN
            or proto.conn.expect_continuation_frame
            or proto.transport.is_closing()
        )

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
            self._backlog_bytes += len(frame)
            if self._backlog_bytes > self.MAX_BACKLOG_BYTES:
                STATS.overflowed += 1
                self._fail()
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
            while self._backlog and not self._dead:
                frame = self._backlog.popleft()
                self._backlog_bytes -= len(frame)
                await self._send(_message(frame))
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:
            self._fail()
        finally:
            self._drainer = None

    def _fail(self) -> None:
        # The reader loop sees the closed websocket and runs the library's disconnect.
        if self._dead:
            return
        self._dead = True
        self._backlog_bytes = 0
        if self._backlog:
            self._backlog.clear()
        owner = getattr(self._send, "__self__", None)
        writable = getattr(owner, "writable", None)
        if writable is not None and not writable.is_set():
            # Paused by flow control: a close frame would wait behind data the peer does not
            # read, and the reader with it. Aborting ends the connection at once.
            owner.transport.abort()
        else:
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

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        await super().close(wait=wait, abort=abort, reason=reason)
        # A ping timeout found by engine.io's service task closes the socket without writing
        # (its CLOSE packet is refused by the same check): end the websocket too, which ends
        # the read loop, as the library's timed-out reader and writer would.
        if self._send is not None and self.closed:
            self._fail()

    async def _flush_then_close(self) -> None:
        drainer = self._drainer
        if drainer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(drainer), self.server.ping_timeout)
            except Exception:
                pass
        self._fail()

    def schedule_ping(self) -> None:
        # The library starts a task per socket that sleeps until the next ping; the wheel keeps
        # a list slot per socket instead, and on websocket the ping is written inline.
        if self.last_ping:
            self.last_ping = None
            _PINGS.add(self, self.server.ping_interval)

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
        self.queue = _DETACHED  # its deques and event are about 3 KB per socket

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
        while True:
            # No idle timer per read (the library's wait_for): a peer that stops answering pings
            # is closed by engine.io's service task (check_ping_timeout), which then ends this
            # read with the websocket's close.
            try:
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
