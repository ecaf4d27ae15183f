"""A lean Socket.IO v5 / Engine.IO v4 client over a hand-written WebSocket, for the load generator.

One asyncio Protocol per socket and no per-frame task, future or decoder object: the generator
must take several hundred thousand frames a second on one core, which python-socketio's client
(or the `websockets` library's recv()) cannot. Only what the bench needs is spoken: websocket
transport only, text frames, no compression (not offered, so never used), no fragmentation.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

# Frames are masked with a zero key: legal framing (the server still unmasks every byte), and the
# generator saves an XOR pass per send. A browser picks a random key; servers cannot tell.
_ZERO_MASK = b"\x00\x00\x00\x00"
NEW_MESSAGE = b'42["new_message"'
STAMP = b"bench:"


class ProtocolError(Exception):
    """The peer said something this client does not speak, or refused us."""


def ws_frame(payload: bytes) -> bytes:
    """A masked text frame (client-to-server frames must be masked)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, 0x80 | n))
    elif n < 65536:
        header = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + _ZERO_MASK + payload


def stamp_of(payload: bytes) -> int:
    """The send time (ns) the sender put in the message content as `bench:<ns>:`."""
    start = payload.find(STAMP)
    if start < 0:
        return -1
    start += len(STAMP)
    return int(payload[start : payload.index(b":", start)])


class Recorder:
    """What every socket reports into: delivery counts and (when on) latencies, in one place."""

    def __init__(self) -> None:
        self.deliveries = 0
        self.record_latency = False
        self.window_start_ns = 0  # deliveries before this are not counted into `counted`
        self.window_end_ns = 1 << 62
        self.counted = 0
        self.other_events = 0  # broadcast events other than new_message
        self.other_counted = 0
        self.latencies_ns: list[int] = []

    def reset(self) -> None:
        self.counted = 0
        self.other_counted = 0
        self.latencies_ns = []


class SioClient(asyncio.Protocol):
    """One Socket.IO connection to namespace '/', websocket transport only."""

    def __init__(
        self,
        index: int,
        host: str,
        port: int,
        headers: dict[str, str],
        rec: Recorder,
        auth: dict[str, Any] | None = None,
    ) -> None:
        self.index = index
        self.host, self.port = host, port
        self.headers = headers
        self.auth = auth
        self.rec = rec
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.connected: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.ack_id = 0
        self.acks: dict[int, Callable[[bytes], None]] = {}
        self.errors: list[str] = []

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
            *([] if "Host" in self.headers else [f"Host: {self.host}:{self.port}"]),
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ProtocolError(f"closed before connect: {exc or 'EOF'}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            if b" 101 " not in status:
                self._fail(f"upgrade refused: {status.decode(errors='replace')}")
                return
            del buf[: end + 4]
            self.upgraded = True
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b1 = buf[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + n
            if end > size:
                break
            opcode = buf[pos] & 0x0F
            if not buf[pos] & 0x80 or b1 & 0x80:
                self._fail("fragmented or masked server frame")
                return
            if opcode == 1:
                self._on_text(bytes(buf[pos + head : end]))
            elif opcode == 8:
                self._fail("server closed the websocket")
                return
            elif opcode == 9:  # websocket-level ping: answer with a pong carrying the same data
                assert self.transport is not None
                body = bytes(buf[pos + head : end])
                self.transport.write(bytes((0x8A, 0x80 | len(body))) + _ZERO_MASK + body)
            pos = end
        if pos:
            del buf[:pos]

    # --- Engine.IO / Socket.IO ----------------------------------------------------------------

    def _on_text(self, p: bytes) -> None:
        # Hot path first: a broadcast event. Everything else is rare.
        rec = self.rec
        if p.startswith(NEW_MESSAGE):
            rec.deliveries += 1
            now = time.monotonic_ns()
            if rec.record_latency:  # the window is on the send stamp: late deliveries count
                sent = stamp_of(p)
                if rec.window_start_ns <= sent < rec.window_end_ns:
                    rec.latencies_ns.append(now - sent)
            elif rec.window_start_ns <= now < rec.window_end_ns:  # the window is on receive time
                rec.counted += 1
            return
        if p.startswith(b"42["):  # any other broadcast event (ours adds channel_activity)
            rec.other_events += 1
            if (
                not rec.record_latency
                and rec.window_start_ns <= time.monotonic_ns() < rec.window_end_ns
            ):
                rec.other_counted += 1
            return
        kind = p[:1]
        if kind == b"2":  # Engine.IO ping: pong, or the server drops us after ping_timeout
            self.send_raw(b"3")
        elif kind == b"0":  # Engine.IO open: connect to the default namespace
            self.send_raw(b"40" + (json.dumps(self.auth).encode() if self.auth else b""))
        elif p.startswith(b"40"):
            if not self.connected.done():
                self.connected.set_result(json.loads(p[2:] or b"{}"))
        elif p.startswith(b"44"):
            self._fail(f"connect refused: {p[2:].decode(errors='replace')}")
        elif p.startswith(b"43"):
            bracket = p.index(b"[")
            callback = self.acks.pop(int(p[2:bracket]), None)
            if callback is not None:
                callback(p[bracket:])
        elif kind == b"1":
            self._fail("server closed the Engine.IO session")

    def send_raw(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(ws_frame(payload))

    def emit(self, event: str, data: Any, on_ack: Callable[[bytes], None] | None = None) -> None:
        """`42<id>["event",data]`; `on_ack` gets the raw ack array (`[...]`) when it comes back."""
        body = json.dumps([event, data], separators=(",", ":")).encode()
        if on_ack is None:
            self.send_raw(b"42" + body)
            return
        self.ack_id += 1
        self.acks[self.ack_id] = on_ack
        self.send_raw(b"42" + str(self.ack_id).encode() + body)

    def call(self, event: str, data: Any, timeout: float) -> asyncio.Future[Any]:
        """Emit with an ack and get the decoded first ack argument."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(raw: bytes) -> None:
            if not fut.done():
                args = json.loads(raw)
                fut.set_result(args[0] if args else None)

        self.emit(event, data, done)
        return asyncio.ensure_future(asyncio.wait_for(fut, timeout))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _fail(self, why: str) -> None:
        self.errors.append(why)
        if not self.connected.done():
            self.connected.set_exception(ProtocolError(why))
        if self.transport is not None:
            self.transport.close()


async def open_client(
    index: int, host: str, port: int, headers: dict[str, str], rec: Recorder, timeout: float
) -> SioClient:
    loop = asyncio.get_running_loop()
    _transport, client = await asyncio.wait_for(
        loop.create_connection(lambda: SioClient(index, host, port, headers, rec), host, port),
        timeout,
    )
    await asyncio.wait_for(asyncio.shield(client.connected), timeout)
    return client
