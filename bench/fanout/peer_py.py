"""The bare python-socketio peer: the same broadcast work as our chat path, minus auth and storage.

Run by the bench as `uvicorn bench.fanout.peer_py:app --ws websockets-sansio` (the ws stack our
server uses); with BENCH_REDIS_URL set it fans out through an AsyncRedisManager, as ours does.
With BENCH_FANOUT=1 the same peer runs on our fan-out engine (`realtime.fanout`: FanoutServer with
a FanoutManager, or a FanoutRedisManager with BENCH_REDIS_URL) instead of the stock library path.
"""

from __future__ import annotations

import os
from typing import Any

import socketio

from bench.fanout.message import make_message

_redis_url = os.environ.get("BENCH_REDIS_URL", "")


def _make_server() -> socketio.AsyncServer:
    if os.environ.get("BENCH_FANOUT") == "1":
        # Only the engine module is imported from our server: no settings, no database.
        from realtime.fanout import FanoutManager, FanoutRedisManager, FanoutServer

        manager = (
            FanoutRedisManager(_redis_url, channel="bench-pyfast")
            if _redis_url
            else FanoutManager()
        )
        return FanoutServer(async_mode="asgi", client_manager=manager, cors_allowed_origins="*")
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(_redis_url, channel="bench-py")
        if _redis_url
        else None,
        cors_allowed_origins="*",
    )


sio = _make_server()
app = socketio.ASGIApp(sio)


@sio.on("join_channel")
async def join_channel(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    channel_id = int(data["channel_id"])
    await sio.enter_room(sid, f"channel:{channel_id}")
    return {"ok": True, "data": {"channel": {"id": channel_id}, "messages": [], "resync": False}}


@sio.on("send_message")
async def send_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    channel_id = int(data["channel_id"])
    message = make_message(sid, channel_id, str(data["content"]), str(data["client_msg_id"]))
    await sio.emit(
        "new_message", {"type": "new_message", "message": message}, room=f"channel:{channel_id}"
    )
    return {"ok": True, "data": {"message": message, "duplicate": False}}
