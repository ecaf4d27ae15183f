"""Fault-suite clients: members signed in without a mail round trip, a socket that follows
channels the way the browser's Conversation does (static/js/chat/conversation.js), and a web
process on a Redis of its own.

Redis pub/sub channels are not per database index: test runs side by side on one Redis hear
each other's pushes (their channel ids both start at 1). A case that counts pushes runs its web
process on its own Redis (`own_redis_server`), and publishes there.

A follower keeps, per channel, every message by seq and `last`, the seq up to which it holds
them all. It catches up (join with since_seq=last) on every connect and on a `resync` push;
with `gap_check` also when a live event skips a seq, as the browser does after GAP_WAIT_MS.
It records what could betray the protocol: a seq pushed twice on one connection, a catch-up
that is not contiguous from since_seq, live pushes out of seq order.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import socketio

from db.auth.tables import Session
from devtools.embedded import start_redis
from devtools.procs import free_port
from devtools.stack import procfile_argv
from server.domains.auth.security import encode_session
from tests.factories import make_member, make_user
from tests.harness import ManagedProcess, http_ready
from tests.realtime.clients import connect

GAP_WAIT_S = 0.4


@pytest.fixture
def own_redis_server(stack, tmp_path: Path, live_server):
    """A web process on a Redis of its own, which the test may stop and start again."""
    redis = start_redis(tmp_path / "redis", persist=False)
    port = free_port()
    # Its own origin too, for a browser that opens pages on it.
    env = {
        **stack.env,
        "PORT": str(port),
        "REDIS_URL": redis.url,
        "EXTRA_ORIGINS": f"http://localhost:{port}",
    }
    web = ManagedProcess(
        name="web-fault",
        argv=procfile_argv("web", env),
        env=env,
        log_path=tmp_path / "web-fault.log",
        ready=http_ready(f"http://127.0.0.1:{port}/healthz"),
    )
    web.start()
    state = {"redis": redis, "port": port, "web": web, "dir": tmp_path / "redis"}
    yield state
    web.stop()
    state["redis"].stop()


async def member_cookies(guild_id: int, n: int, prefix: str) -> list[tuple[dict[str, Any], str]]:
    """`n` members of the guild, each with a session cookie valid on every web process."""
    out = []
    expires = datetime.now(UTC) + timedelta(hours=1)
    for i in range(n):
        user = await make_user(f"{prefix}-{i}-{uuid.uuid4().hex[:6]}@example.com")
        await make_member(guild_id, user["id"])
        sid = uuid.uuid4()
        await Session.insert(
            Session(id=sid, user=user["id"], platform="weokto", expires_at=expires)
        )
        out.append((user, f"weokto_session={encode_session(str(sid), 'weokto')}"))
    return out


class Follower:
    def __init__(
        self,
        base: str,
        cookie: str,
        origin: str,
        channels: list[int],
        gap_check: bool = True,
    ) -> None:
        self.base, self.cookie, self.origin = base, cookie, origin
        self.channels = channels
        self.gap_check = gap_check
        self.client: socketio.AsyncClient | None = None
        self.have: dict[int, dict[int, dict[str, Any]]] = {c: {} for c in channels}
        self.last: dict[int, int] = dict.fromkeys(channels, 0)
        self._locks = {c: asyncio.Lock() for c in channels}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pushed: set[tuple[int, int]] = set()  # (channel, seq) pushed on this connection
        self.live: list[tuple[int, int, float]] = []  # (channel, seq, arrival)
        self.resyncs: list[dict[str, Any]] = []
        self.connects = 0
        self.pushed_twice = 0
        self.out_of_order = 0
        self.catch_ups = 0
        self.caught_messages = 0
        self.errors: list[str] = []

    # -- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        client = await connect(self.base, self.cookie, origin=self.origin)
        client.on("new_message", self._on_new_message)
        client.on("resync", self._on_resync)
        self.client = client
        self._pushed = set()
        self.connects += 1
        # Every (re)connect: rejoin each channel from what we hold, as the page does.
        await asyncio.gather(*(self.catch_up(c) for c in self.channels))

    async def disconnect(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.disconnect()

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- events -------------------------------------------------------------------------------

    async def _on_new_message(self, data: dict[str, Any]) -> None:
        msg = data["message"]
        cid, seq = msg["channel_id"], msg["seq"]
        if cid not in self.have:
            return
        if (cid, seq) in self._pushed:
            self.pushed_twice += 1
        self._pushed.add((cid, seq))
        if self.live and self.live[-1][0] == cid and seq < self.live[-1][1]:
            self.out_of_order += 1
        self.live.append((cid, seq, time.monotonic()))
        self._store(cid, msg)
        if self.gap_check and max(self.have[cid]) > self.last[cid]:
            self._spawn(self._gap_check(cid))

    async def _on_resync(self, data: dict[str, Any]) -> None:
        self.resyncs.append({**data, "at": time.monotonic()})
        jitter = random.random() * data.get("jitter_ms", 0) / 1000
        self._spawn(self._resync(jitter))

    async def _resync(self, jitter: float) -> None:
        await asyncio.sleep(jitter)
        await asyncio.gather(*(self.catch_up(c) for c in self.channels))

    async def _gap_check(self, cid: int) -> None:
        await asyncio.sleep(GAP_WAIT_S)  # the missing one may just be overtaken
        if max(self.have[cid]) > self.last[cid]:
            await self.catch_up(cid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- state --------------------------------------------------------------------------------

    def _store(self, cid: int, msg: dict[str, Any]) -> None:
        self.have[cid].setdefault(msg["seq"], msg)
        while self.last[cid] + 1 in self.have[cid]:
            self.last[cid] += 1

    async def catch_up(self, cid: int) -> None:
        """join_channel with since_seq until the ack's last_seq is held."""
        async with self._locks[cid]:
            while True:
                client = self.client
                if client is None:
                    return  # disconnected meanwhile: the next connect catches up
                since = self.last[cid]
                try:
                    ack = await client.call(
                        "join_channel", {"channel_id": cid, "since_seq": since}, timeout=30
                    )
                except (
                    socketio.exceptions.TimeoutError,
                    socketio.exceptions.BadNamespaceError,
                ) as exc:
                    if self.client is client:  # not a disconnect of ours: a real failure
                        self.errors.append(f"join {cid} since {since}: {exc!r}")
                    return
                if not ack.get("ok"):
                    self.errors.append(f"join {cid} since {since}: {ack}")
                    return
                data = ack["data"]
                if data["resync"]:
                    self.errors.append(f"join {cid} since {since}: too far behind for a catch-up")
                    return
                seqs = [m["seq"] for m in data["messages"]]
                if seqs != list(range(since + 1, since + 1 + len(seqs))):
                    self.errors.append(f"catch-up of {cid} since {since} not contiguous: {seqs}")
                self.catch_ups += 1
                self.caught_messages += len(seqs)
                for m in data["messages"]:
                    self._store(cid, m)
                if self.last[cid] >= data["last_seq"]:
                    return

    def timeline(self, cid: int) -> list[int]:
        return sorted(self.have[cid])
