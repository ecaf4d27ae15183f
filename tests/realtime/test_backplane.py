"""The backplane after a Redis restart: the listener is back within a second of Redis answering,
its state is readable for /readyz and /metrics, and every open socket is told to resync.

A Socket.IO server built like the product's (`realtime.sio.make_server(make_manager(url))`)
runs in-process on uvicorn, on a Redis of its own that the test stops and starts again. Each
test has an event loop of its own: the fan-out engine keeps per-loop state (its ping wheel)
that other tests of the session count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import socketio
import uvicorn

from core.redis import backplane_channel
from devtools.embedded import EmbeddedRedis, start_redis
from devtools.procs import free_port
from realtime import backplane as backplane_module
from realtime.backplane import RESYNC_EVENT, ListenerStatus
from realtime.fanout import LeanWebSocketProtocol
from realtime.sio import make_manager, make_server

pytestmark = pytest.mark.asyncio(loop_scope="function")

# Long enough that python-socketio's own listener has backed off to several seconds.
OUTAGE_S = 8.0


@dataclass
class Backplane:
    redis: EmbeddedRedis
    dir: Path
    server: socketio.AsyncServer
    port: int

    @property
    def status(self) -> ListenerStatus:
        status: ListenerStatus = self.server.manager.status
        return status

    async def publish(self, event: str, data: Any) -> None:
        """Emit to every socket through Redis, as another process (the API, Celery) does."""
        publisher = socketio.AsyncRedisManager(
            self.redis.url, channel=backplane_channel(self.redis.url), write_only=True
        )
        await publisher.emit(event, data, namespace="/")
        await publisher.redis.aclose()


@contextlib.asynccontextmanager
async def _serving(redis_url: str) -> AsyncIterator[tuple[socketio.AsyncServer, int]]:
    """A server built like the product's, on uvicorn in-process, using Redis at `redis_url`."""
    server = make_server(make_manager(redis_url))
    port = free_port()
    config = uvicorn.Config(
        socketio.ASGIApp(server),
        host="127.0.0.1",
        port=port,
        ws=LeanWebSocketProtocol,
        ws_ping_interval=0,
        lifespan="off",
        log_level="warning",
    )
    web = uvicorn.Server(config)
    serving = asyncio.ensure_future(web.serve())
    try:
        while not web.started:
            await asyncio.sleep(0.01)
        yield server, port
    finally:
        web.should_exit = True
        await asyncio.wait_for(serving, 10)
        task = getattr(server.manager, "thread", None)
        if task is not None:
            task.cancel()


@pytest_asyncio.fixture(loop_scope="function")
async def backplane(tmp_path: Path) -> AsyncIterator[Backplane]:
    redis = start_redis(tmp_path / "redis", persist=False)
    stop = [redis]  # the test may restart it: stop whichever runs at the end
    try:
        async with _serving(redis.url) as (server, port):
            state = Backplane(redis=redis, dir=tmp_path / "redis", server=server, port=port)
            try:
                yield state
            finally:
                stop.append(state.redis)
    finally:
        for r in stop:
            r.stop()


async def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_the_listener_is_back_within_a_second_and_open_sockets_resync(backplane):
    client = socketio.AsyncClient(reconnection=False)
    got: list[tuple[str, Any, float]] = []
    for name in ("probe", RESYNC_EVENT):
        client.on(name, lambda data, name=name: got.append((name, data, time.monotonic())))
    await client.connect(f"http://127.0.0.1:{backplane.port}", transports=["websocket"])
    sid = client.sid
    try:
        await _until(lambda: backplane.status.state == "listening", 5, "the first subscription")
        assert backplane.status.ok
        await backplane.publish("probe", {"n": 0})
        await _until(lambda: len(got) == 1, 5, "a push before the outage")

        backplane.redis.stop()
        await _until(lambda: backplane.status.state == "down", 5, "the listener to see Redis go")
        assert not backplane.status.ok and "down for" in backplane.status.describe()
        await asyncio.sleep(OUTAGE_S)
        backplane.redis = start_redis(backplane.dir, persist=False, port=backplane.redis.port)
        answered = time.monotonic()  # start_redis returns once Redis answers PING

        n = 0
        while not any(name == "probe" and data["n"] > 0 for name, data, _ in got):
            assert time.monotonic() - answered < 30, "pushes never resumed"
            n += 1
            await backplane.publish("probe", {"n": n})
            await asyncio.sleep(0.05)
        resumed = next(t for name, data, t in got if name == "probe" and data["n"] > 0)
        assert resumed - answered < 1.0, f"pushes resumed {resumed - answered:.2f} s after Redis"

        # The socket stayed open and was told to catch up on what Redis did not carry.
        await _until(lambda: any(name == RESYNC_EVENT for name, _, _ in got), 5, "the resync")
        (resync,) = [data for name, data, _ in got if name == RESYNC_EVENT]
        assert resync["type"] == "resync" and resync["outage_ms"] >= OUTAGE_S * 1000
        assert client.connected and client.sid == sid
        status = backplane.status
        assert status.state == "listening" and status.ok
        assert status.outages == 1 and status.last_outage_s >= OUTAGE_S
        assert status.resynced_sockets == 1
    finally:
        await client.disconnect()


async def test_the_resync_is_local_only(backplane):
    """Another process listening on the same Redis sees nothing of this process's resync: each
    process tells its own sockets, and only after its own listener is back."""
    client = socketio.AsyncClient(reconnection=False)
    resyncs: list[Any] = []
    client.on(RESYNC_EVENT, resyncs.append)
    await client.connect(f"http://127.0.0.1:{backplane.port}", transports=["websocket"])
    other = make_manager(backplane.redis.url)
    try:
        await _until(lambda: backplane.status.state == "listening", 5, "the subscription")
        seen: list[Any] = []

        async def watch() -> None:
            async for message in other._listen():
                seen.append(message)

        watching = asyncio.ensure_future(watch())
        await asyncio.sleep(0.3)
        await backplane.server.manager.resync_local_sockets(1.5)
        await _until(lambda: len(resyncs) == 1, 5, "the local resync")
        await backplane.publish("probe", {"n": 1})  # a marker: the watcher does receive
        await _until(lambda: len(seen) == 1, 5, "the marker on the other listener")
        assert b'"probe"' in seen[0] and b"resync" not in seen[0]
        assert resyncs[0]["outage_ms"] == 1500
        watching.cancel()
    finally:
        await client.disconnect()


class SilentLink:
    """A TCP relay to Redis that can fall silent without closing, like a Redis host gone from
    the network: data stops flowing both ways, no FIN, no RST; new connections are refused."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.silent = False
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.silent:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.silent:  # silent: swallowed, and the other side never hears
                    writer.write(data)
                    await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


async def test_a_connection_gone_silent_is_noticed_and_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """No FIN, no RST: python-socketio's listener would wait on such a connection forever.
    The quiet subscription is PINGed and, unanswered, dropped and made again."""
    monkeypatch.setattr(backplane_module, "IDLE_PING_S", 0.3)
    monkeypatch.setattr(backplane_module, "PONG_TIMEOUT_S", 0.3)
    redis = start_redis(tmp_path / "redis", persist=False)
    link = SilentLink(redis.port)
    await link.start()
    resyncs: list[Any] = []
    try:
        async with _serving(f"redis://127.0.0.1:{link.port}/0") as (server, port):
            status: ListenerStatus = server.manager.status
            client = socketio.AsyncClient(reconnection=False)
            client.on(RESYNC_EVENT, resyncs.append)
            await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
            await _until(lambda: status.state == "listening", 5, "the first subscription")
            await asyncio.sleep(1.0)  # quiet, answered PINGs: still listening
            assert status.state == "listening"

            link.silent = True
            went_silent = time.monotonic()
            await _until(lambda: status.state == "down", 5, "the silent link to be noticed")
            noticed = time.monotonic() - went_silent
            assert "did not answer a PING" in status.error or "Connection" in status.error

            link.silent = False
            back = time.monotonic()
            await _until(lambda: status.state == "listening", 5, "the subscription again")
            assert time.monotonic() - back < 1.0
            await _until(lambda: len(resyncs) == 1, 5, "the resync")
            assert noticed < 0.3 + 0.3 + 0.5, f"noticed after {noticed:.2f} s"
            assert client.connected
            await client.disconnect()
    finally:
        await link.stop()
        redis.stop()
