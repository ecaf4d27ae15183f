"""The engine's uvicorn and websockets part: shared frame bytes and a leaner websocket protocol.

Hooks uvicorn 0.54's websockets-sansio protocol (its `queue`, `writable`, `request`,
`response`, `conn`, `close_sent`, `disconnected`, `transport` attributes and `start_keepalive`)
and websockets 17's `Frame` serializer and connection state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

# Methods of the library classes this module overrides or calls: checked at import, so a
# renamed one makes the engine fall back instead of silently never being called.
HOOKED = ((WebSocketsSansIOProtocol, "start_keepalive"), (WebSocketsSansIOProtocol, "send"))


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


def shared_frame_target(send: Any) -> Any:
    """uvicorn's websockets-sansio protocol behind an ASGI send, when frames can be shared."""
    proto: Any = getattr(send, "__self__", None)
    if (
        type(proto) in (WebSocketsSansIOProtocol, LeanWebSocketProtocol)
        and not proto.conn.extensions
    ):
        return proto
    return None


def can_take_shared(proto: Any) -> bool:
    """Whether shared bytes may go straight to the transport: open, writable, mid-nothing."""
    return not (
        proto.close_sent
        or proto.disconnected
        or not proto.writable.is_set()
        or proto.conn.state is not OPEN
        or proto.conn.expect_continuation_frame
        or proto.transport.is_closing()
    )


def write_shared(proto: Any, data: bytes) -> bool:
    """Write corked shared bytes unless the connection closed meanwhile; True if written.

    Checked when corked; within one loop pass only a close can have intervened. A pause (flow
    control) is advisory: the transport buffers what it is given.
    """
    if proto.close_sent or proto.transport.is_closing():
        return False
    proto.transport.write(data)
    return True


def abort_if_paused(send: Any) -> bool:
    """Abort the connection behind an ASGI send when flow control paused it; True if aborted.

    A close frame would wait behind data the peer does not read, and the reader with it.
    """
    owner: Any = getattr(send, "__self__", None)
    writable = getattr(owner, "writable", None)
    if writable is not None and not writable.is_set():
        owner.transport.abort()
        return True
    return False


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


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol (`--ws realtime.fanout:LeanWebSocketProtocol`) with
    less kept per open connection: a lean receive queue and writable flag, and the handshake's
    request headers and response released once the 101 is written (websockets' parser keeps
    the Request object for the connection's life; its headers are what weigh)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LeanQueue()  # type: ignore[assignment]
        self.writable = LeanEvent(True)  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # Called once, right after the 101 response went out: nothing reads them afterwards.
        request = getattr(self, "request", None)
        if request is not None:
            request.headers.clear()
            self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        super().start_keepalive()
