"""The Redis backplane's listener: back within a second of Redis answering, its state for
/readyz and /metrics, and a resync for this process's sockets after every outage.

python-socketio's listener (`AsyncRedisManager._redis_listen_with_retries`) doubles its sleep
after each failed attempt up to 60 s, and redis-py retries each attempt on its own first: after
a Redis restart nothing was pushed for up to a minute while the process looked healthy, and the
events published meanwhile never reached the sockets that stayed open. Here the listener tries
again every RETRY_S, says whether it listens, and once it is back tells every socket of this
process (locally: those sockets missed what went through Redis, so it must not depend on Redis)
to rejoin its rooms with since_seq, exactly as after a reconnect. Celery's write-only emits
dropped while Redis was down are covered by the same catch-up. A connection that goes silent
without closing (a Redis host gone from the network) is found by a PING once the channel has
been quiet for IDLE_PING_S.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import socketio
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = structlog.get_logger(__name__)

RETRY_S = 0.25
# A quiet subscription is proved alive by a PING answered within PONG_TIMEOUT_S; otherwise the
# connection is dropped and made again (python-socketio's listener would wait on it forever).
IDLE_PING_S = 5.0
PONG_TIMEOUT_S = 5.0
RESYNC_EVENT = "resync"
# Each told socket rejoins its rooms (a catch-up query, and on the guild page a few REST
# reloads): the browsers spread that over up to this long, scaled by how many are told.
JITTER_PER_SOCKET_MS = 2
MAX_JITTER_MS = 30_000

# The listener's connection fails at once instead of retrying inside redis-py (which would
# delay noticing the outage, and stack under our own retry). Publishing keeps python-socketio's
# two attempts, each failing fast while Redis is down rather than holding the emitting task.
REDIS_OPTIONS: dict[str, Any] = {
    "retry": Retry(NoBackoff(), 0),
    "socket_connect_timeout": 2.0,
    "socket_keepalive": True,
}


class Resync(msgspec.Struct, tag_field="type", tag="resync"):
    """Pushed to each local socket after the backplane was down: events may have been lost."""

    outage_ms: int
    jitter_ms: int


class ListenerStatus:
    """The listener's state in this process: "idle" (no socket yet, not started), "connecting",
    "listening" or "down" (since when, and why). Readiness and metrics read it."""

    def __init__(self) -> None:
        self.state = "idle"
        self.changed_at = time.monotonic()
        self.error = ""
        self.outages = 0  # subscriptions lost and then made again
        self.last_outage_s = 0.0
        self.resynced_sockets = 0

    @property
    def ok(self) -> bool:
        # Idle: nothing to deliver to yet; the first socket starts the listener.
        return self.state in ("idle", "listening")

    def down_for_s(self) -> float:
        return time.monotonic() - self.changed_at if self.state == "down" else 0.0

    def connecting(self) -> None:
        if self.state == "idle":
            self.state, self.changed_at = "connecting", time.monotonic()

    def went_down(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"[:300]
        if self.state == "down":
            return  # one warning per outage, not one per retry
        was_listening = self.state == "listening"
        self.state, self.changed_at = "down", time.monotonic()
        if was_listening:
            log.warning(
                "backplane listener lost Redis: retrying", error=self.error, every_s=RETRY_S
            )

    def listening(self) -> float | None:
        """Mark the subscription made; the outage's length when it ends one, else None."""
        outage = time.monotonic() - self.changed_at if self.state == "down" else None
        self.state, self.changed_at, self.error = "listening", time.monotonic(), ""
        if outage is not None:
            self.outages += 1
            self.last_outage_s = outage
            log.warning(
                "backplane listener back: resyncing local sockets", outage_s=round(outage, 2)
            )
        return outage

    def describe(self) -> str:
        if self.state == "down":
            return f"down for {self.down_for_s():.1f} s: {self.error}"
        if self.state == "idle":
            return "idle: starts with the first socket"
        return self.state


class BackplaneListener(socketio.AsyncRedisManager):
    """Goes before python-socketio's Redis manager (or the fan-out engine's subclass of it) in
    the bases of the process's manager: only the listening loop changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["redis_options"] = {**REDIS_OPTIONS, **(kwargs.get("redis_options") or {})}
        super().__init__(*args, **kwargs)
        self.status = ListenerStatus()

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        self.status.connecting()
        while True:
            pubsub = None
            try:
                self._redis_connect()
                # Its own reference: a failed publish reconnects and replaces self.pubsub.
                pubsub = self.pubsub
                await pubsub.subscribe(self.channel)
                self._subscribed()
                async for message in _messages(pubsub):
                    yield message
            except Exception as exc:  # every failure of the connection: try again soon
                self.status.went_down(exc)
            finally:
                if pubsub is not None:
                    await _close_quietly(pubsub)
            await asyncio.sleep(RETRY_S)

    def _subscribed(self) -> None:
        outage = self.status.listening()
        if outage is not None:
            self.server.start_background_task(self.resync_local_sockets, outage)

    async def resync_local_sockets(self, outage_s: float) -> None:
        """Tell every socket of this process to rejoin with since_seq: straight to the sockets
        (ignore_queue), since what they missed is what Redis did not carry."""
        told = sum(1 for _ in self.get_participants("/", None))
        payload = Resync(
            outage_ms=round(outage_s * 1000),
            jitter_ms=min(MAX_JITTER_MS, told * JITTER_PER_SOCKET_MS),
        )
        await self.server.emit(RESYNC_EVENT, msgspec.to_builtins(payload), ignore_queue=True)
        self.status.resynced_sockets += told


async def _messages(pubsub: Any) -> AsyncIterator[Any]:
    """The subscription's messages (python-socketio keeps the published ones), with a PING
    when it has been quiet: no answer within PONG_TIMEOUT_S means the connection is dead."""
    pinged = False
    while pubsub.subscribed:
        message = await pubsub.get_message(timeout=PONG_TIMEOUT_S if pinged else IDLE_PING_S)
        if message is not None:
            pinged = False  # anything received, the pong included, proves the connection
            yield message
        elif not pinged:
            await pubsub.ping()
            pinged = True
        else:
            raise ConnectionError(f"Redis did not answer a PING within {PONG_TIMEOUT_S} s")
    raise ConnectionError("the subscription ended")


async def _close_quietly(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception as exc:  # a dead connection may fail to close; it is dropped either way
        log.debug("backplane pubsub close failed", error=str(exc))


def listening_manager(base: type[socketio.AsyncRedisManager]) -> type[socketio.AsyncRedisManager]:
    """`base` (the fan-out engine's Redis manager, or the stock one on fallback) with the
    backplane's listener."""
    return type("BackplaneRedisManager", (BackplaneListener, base), {"__module__": __name__})
