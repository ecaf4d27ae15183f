"""The engine's engine.io part: sockets that write inline once on websocket, and one ping wheel.

Hooks python-engineio 4.15.1: `AsyncServer._trigger_event` (the earliest point to give a new
socket our class), `AsyncSocket._websocket_handler` (copied, with the writer task replaced by
inline writes), `send`, `close`, `schedule_ping` and the socket's `queue`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

import engineio
from engineio import async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet

from realtime.fanout.status import STATS
from realtime.fanout.uvicorn_ws import (
    SharedFrame,
    abort_if_paused,
    can_take_shared,
    shared_frame_target,
    write_shared,
)

HOOKED = (
    (engineio.AsyncServer, "_trigger_event"),
    (async_socket.AsyncSocket, "_websocket_handler"),
    (async_socket.AsyncSocket, "send"),
    (async_socket.AsyncSocket, "close"),
    (async_socket.AsyncSocket, "schedule_ping"),
    (async_socket.AsyncSocket, "check_ping_timeout"),
    (async_socket.AsyncSocket, "receive"),
)

# An ASGI send that has not completed: the coroutine and what it yielded (a future it is
# blocked on, or None for a bare yield such as `await asyncio.sleep(0)`).
Pending = tuple[Coroutine[Any, Any, None], Any]


def _message(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        return {"type": "websocket.send", "bytes": frame, "text": None}
    return {"type": "websocket.send", "bytes": None, "text": frame}


def _step(coro: Coroutine[Any, Any, None]) -> tuple[bool, Any]:
    """Run a coroutine until it suspends or ends: (done, what it yielded).

    A coroutine that suspends may yield None (a bare yield asking to be resumed on the next loop
    pass, as `asyncio.sleep(0)` does), so None cannot mean "done": a send taken for finished
    there would never be resumed and its frame never written.
    """
    try:
        return False, coro.send(None)
    except StopIteration:
        return True, None


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
    # Set by the library's constructor; declared for the type checker (engineio is untyped).
    last_ping: float | None
    queue: Any
    connected: bool

    @property
    def fast(self) -> bool:
        return self._send is not None and not self._dead

    def _shared_ok(self) -> bool:
        proto = self._proto
        return not (
            proto is None or self._drainer is not None or self._dead or not can_take_shared(proto)
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
        data = frames[0].wire if len(frames) == 1 else b"".join(f.wire for f in frames)
        if self._dead or not write_shared(self._proto, data):
            # closed meanwhile: the per-socket path decides
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
            done, blocked = _step(coro)
        except Exception:
            self._fail()
            return
        if not done:
            STATS.blocked += 1
            self._backlog = deque()
            self._drainer = asyncio.ensure_future(self._drain((coro, blocked)))

    async def _drain(self, pending: Pending) -> None:
        """Finish the blocked send, then write the backlog in order (this socket only)."""
        coro, blocked = pending
        done = False
        try:
            while not done:
                if blocked is None:  # a bare yield: resume on the next loop pass, as a Task would
                    await asyncio.sleep(0)
                else:
                    try:
                        await blocked
                    except Exception:  # the send reads the outcome itself when resumed
                        pass
                done, blocked = _step(coro)
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
        if not abort_if_paused(self._send):
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
        self._proto = shared_frame_target(self._send)
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
