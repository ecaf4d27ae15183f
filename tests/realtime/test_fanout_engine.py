"""The fan-out engine's per-socket writer: inline writes, a buffer per blocked socket, failures.

These drive FanoutSocket against an ASGI `send` that we control, the boundary the engine writes
to (uvicorn's send completes at once unless flow control pauses the transport). The whole path
through a real server and the official client is in test_conformance.py.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from realtime.fanout import STATS
from realtime.fanout.engineio_hooks import FanoutSocket
from realtime.fanout.uvicorn_ws import LeanEvent, SharedFrame


class FakeTransport:
    """An ASGI websocket send: records frames; `pause()` makes sends wait like flow control,
    on the same writable flag as the lean uvicorn protocol the Procfile runs."""

    def __init__(self, fail: bool = False) -> None:
        self.frames: list[str] = []
        self.closed = False
        self.fail = fail
        self.writable = LeanEvent(True)
        self.aborted = False
        self.transport = SimpleNamespace(abort=self._abort)

    def _abort(self) -> None:
        # What uvicorn does when its transport is lost: unblock pending sends, which then fail.
        self.aborted = True
        self.writable.set()

    def pause(self) -> None:
        self.writable.clear()

    def resume(self) -> None:
        self.writable.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        if self.aborted:
            raise OSError("connection lost")
        if message["type"] == "websocket.close":
            self.closed = True
            return
        if self.fail:
            raise OSError("connection reset")
        self.frames.append(message["text"])


def make_socket(transport: FakeTransport) -> FanoutSocket:
    server = SimpleNamespace(
        create_queue=asyncio.Queue,
        ping_timeout=5,
        ping_interval=5,
        start_background_task=lambda fn, *a: asyncio.ensure_future(fn(*a)),
    )
    sock = FanoutSocket(server, "sid")
    sock._attach(SimpleNamespace(asgi_send=transport.send))
    return sock


async def test_writes_complete_inline_without_a_task():
    transport = FakeTransport()
    sock = make_socket(transport)
    tasks_before = len(asyncio.all_tasks())
    for i in range(3):
        sock.write(f'42["m",{i}]')
    # Nothing awaited in between: the frames are already written, in order, by no task.
    assert transport.frames == ['42["m",0]', '42["m",1]', '42["m",2]']
    assert len(asyncio.all_tasks()) == tasks_before and sock._drainer is None


class YieldingTransport(FakeTransport):
    """A send that suspends once without waiting on anything (a bare yield, as a server that
    hands the loop back before writing would): it is not complete until resumed."""

    async def send(self, message: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        await super().send(message)


async def test_a_send_that_yields_once_is_resumed_and_its_frame_written_in_order():
    transport = YieldingTransport()
    sock = make_socket(transport)
    sock.write("f0")  # suspends on a bare yield: not finished, even though it yielded None
    sock.write("f1")
    await until_true(lambda: transport.frames == ["f0", "f1"])
    await until_true(lambda: sock._drainer is None)
    assert not sock._dead


async def test_a_blocked_socket_buffers_in_order_and_does_not_delay_others():
    slow_t, fast_t = FakeTransport(), FakeTransport()
    slow, fast = make_socket(slow_t), make_socket(fast_t)
    blocked_before = STATS.blocked
    slow_t.pause()
    for i in range(4):
        slow.write(f"f{i}")
        fast.write(f"f{i}")
    assert fast_t.frames == ["f0", "f1", "f2", "f3"]  # written at once despite the slow one
    assert (
        slow_t.frames == []
        and slow._drainer is not None
        and list(slow._backlog) == ["f1", "f2", "f3"]
    )
    assert STATS.blocked == blocked_before + 1
    slow_t.resume()
    await asyncio.wait_for(slow._drainer, 5)
    assert slow_t.frames == ["f0", "f1", "f2", "f3"] and slow._drainer is None
    slow.write("f4")  # back to inline
    assert slow_t.frames[-1] == "f4"


async def test_a_socket_too_slow_for_its_rooms_is_cut_off_without_holding_the_others():
    slow_t, fast_t = FakeTransport(), FakeTransport()
    slow, fast = make_socket(slow_t), make_socket(fast_t)
    slow.MAX_BACKLOG_BYTES = 1000
    overflowed = STATS.overflowed
    slow_t.pause()  # the peer stopped reading: the kernel buffer is full
    frame = "42" + "x" * 98
    for _ in range(10):
        slow.write(frame)
        fast.write(frame)
    assert not slow._dead and slow._backlog_bytes == 900  # the first send is the blocked one
    slow.write(frame)
    slow.write(frame)  # past 1,000 bytes waiting
    assert slow._dead and slow_t.aborted and not slow._backlog and slow._backlog_bytes == 0
    assert STATS.overflowed == overflowed + 1
    from server.domains.ops.metrics import FanoutCollector

    exported = {f.name: f.samples[0].value for f in FanoutCollector().collect()}
    assert exported["realtime_fanout_slow_sockets_closed"] == STATS.overflowed
    await until_true(lambda: slow._drainer is None)  # the pending send failed: drainer gone
    assert len(fast_t.frames) == 10 and not fast._dead and slow_t.frames == []


async def test_a_ping_timeout_on_a_paused_socket_aborts_the_connection():
    """A close frame would wait behind data the dead peer never reads (and the reader with it)."""
    import logging

    transport = FakeTransport()
    sock = make_socket(transport)

    async def trigger(event, *args, **kwargs):
        return None

    sock.server.logger = logging.getLogger("test")
    sock.server.reason = SimpleNamespace(
        PING_TIMEOUT="ping timeout", SERVER_DISCONNECT="server disconnect"
    )
    sock.server._trigger_event = trigger
    transport.pause()
    sock.write('42["stuck"]')  # blocked
    sock.last_ping = time.time() - 60
    assert await sock.check_ping_timeout() is False
    assert transport.aborted and sock._dead
    await until_true(lambda: sock._drainer is None)


async def test_a_failed_write_ends_the_socket_and_drops_later_frames():
    transport = FakeTransport(fail=True)
    sock = make_socket(transport)
    sock.write("f0")
    assert sock._dead and not sock.fast
    await asyncio.sleep(0)  # the close runs as a background task
    await asyncio.sleep(0)
    assert transport.closed
    sock.write("f1")
    assert transport.frames == []


async def test_packets_queued_before_the_upgrade_go_first():
    transport = FakeTransport()
    server = SimpleNamespace(
        create_queue=asyncio.Queue,
        ping_timeout=5,
        ping_interval=5,
        start_background_task=lambda fn, *a: asyncio.ensure_future(fn(*a)),
    )
    sock = FanoutSocket(server, "sid")
    from engineio import packet as eio_packet

    await sock.queue.put(eio_packet.Packet(eio_packet.MESSAGE, data="40"))
    sock._attach(SimpleNamespace(asgi_send=transport.send))
    sock.write('42["after"]')
    assert transport.frames == ["440", '42["after"]']
    assert sock.queue.qsize() == 0


class RawTransport:
    def __init__(self, sink: list) -> None:
        self.sink = sink

    def write(self, data: bytes) -> None:
        self.sink.append(data)

    def is_closing(self) -> bool:
        return False


def with_shared_target(sock: FanoutSocket, sink: list) -> SimpleNamespace:
    """Give the socket a stand-in for uvicorn's protocol (the attributes write_shared reads)."""
    from websockets.protocol import OPEN

    proto = SimpleNamespace(
        writable=LeanEvent(True),
        disconnected=False,
        close_sent=False,
        conn=SimpleNamespace(state=OPEN, expect_continuation_frame=False),
        transport=RawTransport(sink),
    )
    sock._proto = proto
    return proto


async def test_shared_frame_bytes_are_one_websocket_text_frame():
    from websockets.frames import Frame

    frame = SharedFrame('42["m",{"x":1}]')
    wire = frame.wire
    assert wire is frame.wire  # built once, then reused for every socket
    assert wire[0] == 0x81 and wire[1] == len(frame.text)  # FIN + text opcode, unmasked
    assert wire[2:].decode() == frame.text
    assert Frame(1, frame.text.encode()).serialize(mask=False) == wire


async def test_shared_bytes_wait_behind_a_blocked_send_to_keep_order():
    transport, sink = FakeTransport(), []
    sock = make_socket(transport)
    with_shared_target(sock, sink)
    assert sock.write_shared(SharedFrame("s0"))
    transport.pause()
    sock.write("a1")  # an ack that blocks: the socket now has a pending writer
    assert not sock.write_shared(SharedFrame("s2"))  # refused: would overtake a1
    sock.write("s2")
    transport.resume()
    await asyncio.wait_for(sock._drainer, 5)
    assert len(sink) == 1 and transport.frames == ["a1", "s2"]
    assert sock.write_shared(SharedFrame("s3"))
    await asyncio.sleep(0)  # corked until the end of the loop pass
    assert len(sink) == 2


async def test_shared_frames_of_one_loop_pass_leave_in_one_write_and_acks_keep_order():
    transport, sink = FakeTransport(), []
    sock = make_socket(transport)
    with_shared_target(sock, sink)
    frames = [SharedFrame(f"s{i}") for i in range(3)]
    assert all(sock.write_shared(f) for f in frames[:2])
    assert sink == []  # corked
    sock.write("ack")  # another writer: the corked frames go first
    assert sink == [frames[0].wire + frames[1].wire] and transport.frames == ["ack"]
    assert sock.write_shared(frames[2])
    await asyncio.sleep(0)
    assert sink[-1] == frames[2].wire and len(sink) == 2


async def test_pings_come_from_one_wheel_timer_and_are_written_inline():
    from realtime.fanout import engineio_hooks as fanout

    loop = asyncio.get_running_loop()
    transports = [FakeTransport() for _ in range(3)]
    socks = [make_socket(t) for t in transports]
    timers_before = len(loop._scheduled)  # asyncio's timer heap (CPython's base event loop)
    tasks_before = len(asyncio.all_tasks())
    for sock in socks:
        sock.server.ping_interval = 0.01
        sock.last_ping = 1.0  # a pong arrived: schedule the next ping
        sock.schedule_ping()
        assert sock.last_ping is None
    # Three sockets, one timer and no task: the wheel holds a list slot per socket.
    assert len(loop._scheduled) == timers_before + 1 and len(fanout._PINGS) == 3
    assert len(asyncio.all_tasks()) == tasks_before
    await until_true(lambda: all(t.frames == ["2"] for t in transports))
    assert all(s.last_ping is not None for s in socks) and len(fanout._PINGS) == 0


async def test_a_closed_socket_gets_no_ping():
    transport = FakeTransport()
    sock = make_socket(transport)
    sock.server.ping_interval = 0.01
    sock.last_ping = 1.0
    sock.schedule_ping()
    sock.closed = True
    await asyncio.sleep(1.1)  # past the wheel's next one-second slot
    assert transport.frames == []


async def test_a_ping_timeout_closes_the_websocket():
    """engine.io's service task finds the unanswered ping; the websocket must end with it, or
    the reader would wait forever on a peer that vanished without a FIN."""
    import logging

    transport = FakeTransport()
    sock = make_socket(transport)
    disconnects = []

    async def trigger(event, *args, **kwargs):
        disconnects.append((event, args))

    sock.server.logger = logging.getLogger("test")
    sock.server.reason = SimpleNamespace(
        PING_TIMEOUT="ping timeout", SERVER_DISCONNECT="server disconnect"
    )
    sock.server._trigger_event = trigger
    sock.last_ping = time.time() - 60  # pinged a minute ago, no pong since
    assert await sock.check_ping_timeout() is False
    await until_true(lambda: transport.closed)
    assert sock.closed and disconnects == [("disconnect", ("sid", "ping timeout"))]


async def test_after_the_upgrade_the_engineio_queue_is_released():
    from realtime.fanout.engineio_hooks import _DETACHED

    transport = FakeTransport()
    sock = make_socket(transport)
    assert sock.queue is _DETACHED  # shared by every socket: no deques of its own
    await asyncio.wait_for(sock.queue.join(), 1)  # what close(wait=True) awaits
    try:
        sock.queue.put_nowait("late")
    except RuntimeError:
        pass
    else:
        raise AssertionError("a packet queued after the upgrade would never be written")


async def until_true(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_after_a_long_flush_the_next_one_waits_to_gather_more_events():
    from realtime.fanout import engineio_hooks as fanout

    transport, sink = FakeTransport(), []
    sock = make_socket(transport)
    with_shared_target(sock, sink)
    fanout._CORKED._last_flush_s = 0.003  # the previous flush took 3 ms and just ended
    fanout._CORKED._last_flush_end = time.perf_counter()
    try:
        assert sock.write_shared(SharedFrame("s0"))
        await asyncio.sleep(0)
        assert sink == []  # not at the end of this pass: gathering
        assert sock.write_shared(SharedFrame("s1"))
        await until_true(lambda: sink)
        assert sink == [SharedFrame("s0").wire + SharedFrame("s1").wire]  # one write for both
    finally:
        fanout._CORKED._last_flush_s = 0.0


async def test_after_a_quiet_spell_a_frame_is_not_held_back():
    from realtime.fanout import engineio_hooks as fanout

    transport, sink = FakeTransport(), []
    sock = make_socket(transport)
    with_shared_target(sock, sink)
    fanout._CORKED._last_flush_s = 0.003  # a long flush, but 50 ms ago: nothing to gather
    fanout._CORKED._last_flush_end = time.perf_counter() - 0.05
    try:
        assert sock.write_shared(SharedFrame("s0"))
        await asyncio.sleep(0)
        assert sink == [SharedFrame("s0").wire]  # written at the end of this loop pass
    finally:
        fanout._CORKED._last_flush_s = 0.0
