"""The one module that emits to browsers: events queued in a unit of work are sent after its commit.

Every process (API, Celery) publishes through a write-only python-socketio Redis manager on
the same channel the Socket.IO servers listen to, so an event reaches a browser whichever
process holds its socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import socketio
import structlog

from core.redis import backplane_channel
from core.settings import get_settings
from db import uow
from realtime.throttle import Throttle

log = structlog.get_logger(__name__)

_SLOT = "realtime.events"


class QueuedEvent(msgspec.Struct, frozen=True):
    room: str
    event: str
    payload: msgspec.Struct
    skip_sid: str | None = None
    # Events with the same key within COALESCE_S go out as the first and the latest only.
    coalesce: str | None = None
    # Among coalesced events, "latest" is the highest rank (a channel's seq), not the last to
    # arrive: concurrent sends publish after their commits in either order.
    rank: int = 0


COALESCE_S = 1.0


class Coalescer:
    """Leading- and trailing-edge throttle per key, per process.

    Summary events (a channel's latest seq, for unread badges) go to whole guild rooms; one
    per message would double the fan-out of a busy channel, so a burst is squeezed into the
    first event and the latest one, at most one per key per COALESCE_S in each process.
    """

    def __init__(self) -> None:
        self._throttle: Throttle[str, QueuedEvent, QueuedEvent] = Throttle(
            window=lambda: COALESCE_S,
            leading=lambda _key, item: _publish(item),
            fold=_latest,
            # Offered again rather than published: it opens the next window, so a burst that
            # goes on still yields at most one event per key per window.
            trailing=self._throttle_offer,
        )

    async def offer(self, item: QueuedEvent) -> None:
        await self._throttle.offer(item.coalesce or "", item)

    async def _throttle_offer(self, key: str, item: QueuedEvent) -> None:
        await self._throttle.offer(key, item)


def _latest(
    pending: QueuedEvent | None, item: QueuedEvent, first: QueuedEvent
) -> QueuedEvent | None:
    # The highest rank wins the trailing edge, not the last to arrive: concurrent sends publish
    # after their commits in either order. Below the leading edge's rank, nothing is pending.
    return item if item.rank >= (pending.rank if pending is not None else first.rank) else pending


_coalescer = Coalescer()


_manager: socketio.AsyncRedisManager | None = None
# Publishes in flight per process. The manager's Redis pool refuses a connection past its size,
# and its retry then replaces the whole client with a new pool: a burst (thousands of
# disconnects, a bulk job) would churn connections and could drop events. Waiting here keeps
# the burst on one pool.
MAX_PUBLISHING = 64
_gate: asyncio.Semaphore | None = None
# Tests swap the sender to capture what would have been published.
_sender: Callable[[QueuedEvent], Any] | None = None


def _get_manager() -> socketio.AsyncRedisManager:
    global _manager, _gate
    if _manager is None:
        _manager = socketio.AsyncRedisManager(
            get_settings().redis_url,
            channel=backplane_channel(get_settings().redis_url),
            write_only=True,
        )
        _gate = asyncio.Semaphore(MAX_PUBLISHING)
    return _manager


def reset_manager() -> None:
    """Forget the manager (its Redis connection and the gate belong to the event loop that
    made them)."""
    global _manager, _gate
    _manager, _gate = None, None


def set_sender(sender: Callable[[QueuedEvent], Any] | None) -> None:
    global _sender
    _sender = sender


def queue(
    room: str,
    event: str,
    payload: msgspec.Struct,
    skip_sid: str | None = None,
    coalesce: str | None = None,
    rank: int = 0,
) -> None:
    """Queue an event for after the current unit of work (db.uow) commits."""
    if not uow.in_work():
        raise RuntimeError("realtime events must be queued inside db atomic() or after_write()")
    work = uow.current_work()
    pending: list[QueuedEvent] = work.slot(_SLOT, list)
    if not pending:  # the first event of this block: publish them all once it has committed
        uow.on_commit(_SLOT, lambda: flush(pending), last=True)
    pending.append(
        QueuedEvent(
            room=room, event=event, payload=payload, skip_sid=skip_sid, coalesce=coalesce, rank=rank
        )
    )


class Outgoing(msgspec.Struct, frozen=True):
    """An event to send, as a domain's notify_* builds it; the action queues it (queue_all)."""

    room: str
    event: str
    payload: msgspec.Struct
    skip_sid: str | None = None
    coalesce: str | None = None
    rank: int = 0


def queue_all(items: list[Outgoing]) -> None:
    """Queue built events, in order, for after the current unit of work commits."""
    for item in items:
        queue(item.room, item.event, item.payload, item.skip_sid, item.coalesce, item.rank)


async def publish_ephemeral(
    room: str, event: str, payload: msgspec.Struct, skip_sid: str | None = None
) -> None:
    """Send at once an event that describes no stored state (typing, presence)."""
    await flush([QueuedEvent(room=room, event=event, payload=payload, skip_sid=skip_sid)])


async def _publish(item: QueuedEvent) -> None:
    if _sender is not None:
        result = _sender(item)
        if hasattr(result, "__await__"):
            await result
        return
    data = msgspec.to_builtins(item.payload)
    manager = _get_manager()
    assert _gate is not None
    async with _gate:
        await manager.emit(item.event, data, room=item.room, namespace="/", skip_sid=item.skip_sid)


async def flush(items: list[QueuedEvent]) -> None:
    for item in items:
        try:
            if item.coalesce is not None:
                await _coalescer.offer(item)
            else:
                await _publish(item)
        except Exception:  # a lost push must never undo a committed write
            log.exception("realtime publish failed", event=item.event, room=item.room)
