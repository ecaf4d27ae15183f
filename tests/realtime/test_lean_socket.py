"""What an open socket keeps: the lean receive queue and flag, the released handshake, and the
trimmed environ of an accepted Socket.IO connection (realtime/fanout/)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
import websockets

from realtime.fanout import FanoutManager, FanoutServer, LeanWebSocketProtocol
from realtime.fanout.uvicorn_ws import LeanEvent, LeanQueue


async def test_lean_queue_hands_items_out_in_order_and_wakes_a_waiting_reader():
    queue = LeanQueue()
    assert queue.empty()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()  # nothing to read yet: the reader waits
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert await asyncio.wait_for(reader, 1) == "a"
    assert queue.qsize() == 1 and await queue.get() == "b" and queue.empty()


async def test_a_cancelled_reader_leaves_the_item_for_the_next_one():
    queue = LeanQueue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("kept")
    reader.cancel()  # cancelled after the wake-up, before it ran
    await asyncio.gather(reader, return_exceptions=True)
    assert await asyncio.wait_for(queue.get(), 1) == "kept"
    assert not queue._waiters  # no waiter left behind


async def test_lean_event_blocks_while_clear_and_releases_every_waiter_on_set():
    flag = LeanEvent(True)
    assert await asyncio.wait_for(flag.wait(), 1) is True
    flag.clear()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters) and not flag.is_set()
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True]
    assert flag._waiters == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": event["text"].upper()})


async def test_the_lean_protocol_serves_a_websocket_and_releases_the_handshake():
    port = free_port()
    config = uvicorn.Config(
        echo_app,
        host="127.0.0.1",
        port=port,
        ws=LeanWebSocketProtocol,
        ws_ping_interval=0,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/", additional_headers={"X-Big": "x" * 2000}
        ) as ws:
            for word in ("one", "two", "three"):
                await ws.send(word)
                assert await asyncio.wait_for(ws.recv(), 5) == word.upper()
            (proto,) = list(server.server_state.connections)
            assert isinstance(proto, LeanWebSocketProtocol)
            assert isinstance(proto.queue, LeanQueue) and isinstance(proto.writable, LeanEvent)
            # The handshake is over: its response is gone and the request kept by websockets'
            # parser has no headers left; no transport-level ping timer (Engine.IO pings).
            assert proto.response is None and proto.request is None
            request = proto.conn.parser.gi_frame.f_locals["request"]
            assert len(request.headers) == 0 and proto.ping_timer is None
        await asyncio.sleep(0.1)
        assert not server.server_state.connections  # closed cleanly
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


async def test_a_server_shutdown_ends_open_lean_sockets_with_a_restart_code():
    """On a deploy the server closes its sockets with 1012 (service restart), which the
    Socket.IO client treats as a reason to reconnect; the app's reader must see it through
    the lean queue and return, or the shutdown would wait on it."""
    port = free_port()
    ended: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await echo_app(scope, receive, send)
        ended.append(scope["type"])

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=LeanWebSocketProtocol,
        ws_ping_interval=0,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), 5) == "HI"
            server.should_exit = True
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        await asyncio.wait_for(serving, 10)
        assert ended == ["websocket"]
    finally:
        server.should_exit = True
        if not serving.done():
            await asyncio.wait_for(serving, 10)


async def test_a_peer_that_stops_answering_pings_is_disconnected():
    """No timer per read any more: Engine.IO's service task finds the unanswered ping, and the
    socket's close must end the websocket and run the disconnect handler."""
    import socketio

    sio = FanoutServer(
        async_mode="asgi", client_manager=FanoutManager(), ping_interval=1, ping_timeout=1
    )
    gone: list[Any] = []

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        gone.append(reason)

    port = free_port()
    config = uvicorn.Config(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=port,
        ws=LeanWebSocketProtocol,
        ws_ping_interval=0,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url) as ws:
            assert (await asyncio.wait_for(ws.recv(), 5)).startswith("0{")
            await ws.send("40")
            assert (await asyncio.wait_for(ws.recv(), 5)).startswith("40{")
            frames = []
            with pytest.raises(websockets.ConnectionClosed):
                while True:  # read (so the transport is not paused) but never answer a ping
                    frames.append(await asyncio.wait_for(ws.recv(), 10))
        assert "2" in frames  # it was pinged
        await asyncio.sleep(0.2)
        assert gone == [sio.reason.PING_TIMEOUT]
        assert not sio.eio.sockets or all(s.closed for s in sio.eio.sockets.values())
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        await sio.shutdown()


def make_server(refuse: bool = False) -> tuple[FanoutServer, list[dict[str, Any]]]:
    sio = FanoutServer(async_mode="asgi", client_manager=FanoutManager())
    seen: list[dict[str, Any]] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        seen.append(dict(environ))
        return not refuse

    return sio, seen


def websocket_environ() -> dict[str, Any]:
    scope = {
        "type": "websocket",
        "path": "/socket.io/",
        "headers": [(b"cookie", b"s=" + b"x" * 500), (b"host", b"localhost")],
    }
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "HTTP_COOKIE": "s=" + "x" * 500,
        "HTTP_ORIGIN": "http://localhost",
        "HTTP_USER_AGENT": "test",
        "wsgi.input": object(),
        "asgi.scope": scope,
        "asgi.send": None,
        "asgi.receive": None,
    }


async def test_an_accepted_connection_keeps_only_a_small_environ():
    sio, seen = make_server()
    environ = websocket_environ()
    scope = environ["asgi.scope"]
    await sio._handle_eio_connect("e1", environ)
    await sio._handle_connect("e1", "/", None)
    assert seen[0]["HTTP_COOKIE"].startswith("s=")  # the handler saw the whole request
    sid = sio.manager.sid_from_eio_sid("e1", "/")
    assert sio.manager.is_connected(sid, "/")
    kept = sio.get_environ(sid)
    assert kept is environ  # trimmed in place: every holder sees the small one
    assert set(kept) == {
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "HTTP_HOST",
        "HTTP_ORIGIN",
        "HTTP_USER_AGENT",
    }
    assert scope["headers"] == []


async def test_a_refused_connection_keeps_its_environ_for_a_retry():
    sio, seen = make_server(refuse=True)
    environ = websocket_environ()
    await sio._handle_eio_connect("e1", environ)
    await sio._handle_connect("e1", "/", None)
    assert seen and sio.manager.sid_from_eio_sid("e1", "/") is None
    assert "HTTP_COOKIE" in environ and environ["asgi.scope"]["headers"]
