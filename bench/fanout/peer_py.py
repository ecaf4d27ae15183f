"""The bare python-socketio peer: the same broadcast work as our chat path, minus auth and storage.

Run by the bench as `uvicorn bench.fanout.peer_py:app --ws websockets-sansio` (the ws stack our
server uses); with BENCH_REDIS_URL set it fans out through an AsyncRedisManager, as ours does.
"""
from __future__ import annotations

import itertools
import os
from datetime import datetime, timezone
from html import escape
from typing import Any

import socketio

_redis_url = os.environ.get("BENCH_REDIS_URL", "")
sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=socketio.AsyncRedisManager(_redis_url, channel="bench-py") if _redis_url else None,
    cors_allowed_origins="*",
)
app = socketio.ASGIApp(sio)
# In memory and per process: this peer has no persistence (two processes number independently).
_ids = itertools.count(1)
_seq: dict[int, int] = {}


def _message(sid: str, channel_id: int, content: str, client_msg_id: str) -> dict[str, Any]:
    """A `Message` of the same shape and about the same size as ours (docs/realtime.md)."""
    seq = _seq[channel_id] = _seq.get(channel_id, 0) + 1
    return {"id": next(_ids), "channel_id": channel_id, "conversation_id": None, "seq": seq,
            "author": {"id": 0, "display_name": sid[:8]}, "content": content,
            "html": f"<p>{escape(content)}</p>", "client_msg_id": client_msg_id, "mentions": [],
            "reactions": [], "created_at": datetime.now(timezone.utc).isoformat(),
            "edited_at": None, "deleted": False}


@sio.on("join_channel")
async def join_channel(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    channel_id = int(data["channel_id"])
    await sio.enter_room(sid, f"channel:{channel_id}")
    return {"ok": True, "data": {"channel": {"id": channel_id}, "messages": [], "resync": False}}


@sio.on("send_message")
async def send_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    channel_id = int(data["channel_id"])
    message = _message(sid, channel_id, str(data["content"]), str(data["client_msg_id"]))
    await sio.emit("new_message", {"type": "new_message", "message": message},
                   room=f"channel:{channel_id}")
    return {"ok": True, "data": {"message": message, "duplicate": False}}
