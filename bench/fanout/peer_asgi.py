"""The bare ASGI ceiling: a raw websocket app speaking just enough Engine.IO v4 / Socket.IO v5 for the bench.

Run by the bench as `uvicorn bench.fanout.peer_asgi:app --ws websockets-sansio`, like the other
Python targets, but with no Socket.IO library: websocket transport only, namespace '/', text
frames. A `send_message` builds the same `Message` as the peers, encodes the `new_message` frame
once, and awaits the ASGI `send` of each room member in a plain loop before it acks. With
BENCH_REDIS_URL set, the frame is published on a Redis channel instead and every process
(the publisher too) writes it to its own members from one subscriber task.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from bench.fanout.message import make_message

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

PING_INTERVAL_MS, PING_TIMEOUT_MS = 25_000, 20_000
REDIS_CHANNEL = "bench-asgi"


def _dumps(data: Any) -> str:
    # The separators python-socketio uses, so frames are the same size as the peers'.
    return json.dumps(data, separators=(",", ":"))


class Peer:
    """This process's sockets and rooms, and (with two processes) the Redis backplane."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.sockets: dict[str, Send] = {}
        self.rooms: dict[str, dict[str, Send]] = {}
        self.redis: Any = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # Pings keep the wire honest (the libraries send them too); a missing pong is not enforced.
        self.tasks.append(asyncio.create_task(self._ping_loop()))
        if self.redis_url:
            import redis.asyncio as redis

            self.redis = redis.Redis.from_url(self.redis_url)
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(REDIS_CHANNEL)  # before startup completes: no publish is missed
            self.tasks.append(asyncio.create_task(self._listen(pubsub)))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.redis is not None:
            await self.redis.aclose()

    async def _ping_loop(self) -> None:
        ping = {"type": "websocket.send", "text": "2"}
        while True:
            await asyncio.sleep(PING_INTERVAL_MS / 1000)
            for send in tuple(self.sockets.values()):
                await _send_quietly(send, ping)

    async def _listen(self, pubsub: Any) -> None:
        async for item in pubsub.listen():
            room, _, frame = item["data"].decode().partition("\n")
            await self.deliver(room, frame)

    async def deliver(self, room: str, frame: str) -> None:
        """The fan-out: one encoded frame, every local member's send awaited in turn."""
        message = {"type": "websocket.send", "text": frame}
        for send in tuple(self.rooms.get(room, {}).values()):  # a copy: members leave mid-loop
            await _send_quietly(send, message)

    async def broadcast(self, room: str, frame: str) -> None:
        if self.redis is not None:
            await self.redis.publish(REDIS_CHANNEL, f"{room}\n{frame}")
        else:
            await self.deliver(room, frame)

    def join(self, sid: str, room: str) -> None:
        self.rooms.setdefault(room, {})[sid] = self.sockets[sid]

    def leave_all(self, sid: str) -> None:
        self.sockets.pop(sid, None)
        for members in self.rooms.values():
            members.pop(sid, None)


async def _send_quietly(send: Send, message: dict[str, Any]) -> None:
    try:
        await send(message)
    except Exception:  # a socket that just went away; its own loop cleans it up
        pass


peer = Peer(os.environ.get("BENCH_REDIS_URL", ""))


async def on_event(sid: str, send: Send, ack_id: str, event: str, data: dict[str, Any]) -> None:
    if event == "join_channel":
        channel_id = int(data["channel_id"])
        peer.join(sid, f"channel:{channel_id}")
        reply: dict[str, Any] = {
            "ok": True,
            "data": {"channel": {"id": channel_id}, "messages": [], "resync": False},
        }
    elif event == "send_message":
        channel_id = int(data["channel_id"])
        message = make_message(sid, channel_id, str(data["content"]), str(data["client_msg_id"]))
        frame = "42" + _dumps(["new_message", {"type": "new_message", "message": message}])
        await peer.broadcast(f"channel:{channel_id}", frame)
        reply = {"ok": True, "data": {"message": message, "duplicate": False}}
    else:
        reply = {"ok": False, "error": {"code": "unknown_event", "message": event, "details": None}}
    if ack_id:
        await send({"type": "websocket.send", "text": f"43{ack_id}{_dumps([reply])}"})


async def on_packet(sid: str, send: Send, text: str) -> bool:
    """Handle one Engine.IO packet; False when the client is leaving."""
    if text.startswith("42"):  # `42<ack id>["event",data]`
        bracket = text.index("[")
        args = json.loads(text[bracket:])
        await on_event(sid, send, text[2:bracket], args[0], args[1] if len(args) > 1 else {})
    elif text.startswith("40"):
        await send(
            {"type": "websocket.send", "text": "40" + _dumps({"sid": secrets.token_urlsafe(15)})}
        )
    elif text == "2":
        await send({"type": "websocket.send", "text": "3"})
    elif text.startswith(("1", "41")):
        return False
    return True  # "3" (pong) and anything else: nothing to do


async def websocket(receive: Receive, send: Send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    sid = secrets.token_urlsafe(15)
    await send(
        {
            "type": "websocket.send",
            "text": "0"
            + _dumps(
                {
                    "sid": sid,
                    "upgrades": [],
                    "pingInterval": PING_INTERVAL_MS,
                    "pingTimeout": PING_TIMEOUT_MS,
                    "maxPayload": 1_000_000,
                }
            ),
        }
    )
    peer.sockets[sid] = send
    try:
        while True:
            msg = await receive()
            if msg["type"] != "websocket.receive":
                return
            text = msg.get("text")
            if text is None:
                text = (msg.get("bytes") or b"").decode()
            if not await on_packet(sid, send, text):
                await send({"type": "websocket.close", "code": 1000})
                return
    finally:
        peer.leave_all(sid)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await peer.start()
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await peer.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await websocket(receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(receive, send)
    else:  # plain HTTP: only websockets are served
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"websocket only\n"})
