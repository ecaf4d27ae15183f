"""Losing access cuts the live socket: room leaves and disconnects, as after-commit effects.

An action that removes access (a lost purchase, a kick, a demotion, a logout, a suspension)
registers here what its sockets lose, inside its unit of work (db.uow); once it has committed:

- `leave(user_id, rooms)`: every socket of the user, on any process, leaves these rooms;
- `cut_session(session_id)`: every socket opened with that session is disconnected;
- `cut_user(user_id)`: every socket of the user is disconnected.

How sockets are found across processes: python-socketio's Redis manager carries a room leave or
a disconnect to whichever process holds a socket, but only by sid, and a room's members are
known only to the process that holds them. So the sids live in Redis: per user, the presence
sorted set (realtime.presence); per session, a sorted set kept here the same way (each process
refreshes the entries of its own sockets on its heartbeat, so a dead process's entries expire).
A registry rather than a broadcast asking every process to search its own rooms: it works from
every process that commits (web, Celery) through a write-only manager, with no listener of ours
to add to the servers, and it uses only the manager's own room operations.

A socket that connects while its session is being revoked: the connect handler registers the
socket first and reads a short-lived revocation marker last, and `cut_*` writes the marker
before it reads the registry, so either the effect finds the socket or the connect sees the
marker and refuses (see `is_revoked`). A channel room is entered only by `join_channel`,
which reads access again once inside (chat's check_join_channel). What is left open: a socket
connecting during a kick may enter the guild's room (presence and unread counts, no message)
after the eviction ran; its next connect or event sees the removal.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import socketio
import structlog

from core.redis import backplane_channel, get_redis
from core.settings import get_settings
from db import uow
from realtime import presence

log = structlog.get_logger(__name__)

NAMESPACE = "/"
_SLOT = "realtime.revoke"
# Long enough to cover a connect handler in flight when the revocation committed.
MARKER_TTL_S = 120


class Revocation(msgspec.Struct, frozen=True):
    """What a committed action takes from a user's live sockets."""

    kind: Literal["leave", "cut_session", "cut_user"]
    user_id: int | None = None
    session_ids: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()


# Tests swap the operator to see what would be done once the block commits.
_operator: Callable[[Revocation], Any] | None = None
_managers: dict[int, socketio.AsyncRedisManager] = {}


def set_operator(operator: Callable[[Revocation], Any] | None) -> None:
    global _operator
    _operator = operator


def _manager() -> socketio.AsyncRedisManager:
    # Write-only: it publishes the room operations; its connections belong to the loop that
    # made them (Celery runs its own loop), so one per loop.
    loop_id = id(asyncio.get_running_loop())
    manager = _managers.get(loop_id)
    if manager is None:
        manager = socketio.AsyncRedisManager(
            get_settings().redis_url,
            channel=backplane_channel(get_settings().redis_url),
            write_only=True,
        )
        _managers[loop_id] = manager
    return manager


# --- what actions register ----------------------------------------------------------------------


def leave(user_id: int, rooms: list[str]) -> None:
    """After commit, every socket of the user leaves these rooms (before the events of the
    block are published, so an `access_ended` queued beside it arrives once they are left)."""
    if rooms:
        _pending_first().append(Revocation(kind="leave", user_id=user_id, rooms=tuple(rooms)))


def cut_session(session_id: str) -> None:
    """After commit, and after the block's events (a `session.revoked` queued before this call
    reaches the sockets first), every socket of this session is disconnected."""
    _pending_last().append(Revocation(kind="cut_session", session_ids=(session_id,)))


def cut_user(user_id: int, session_ids: list[str]) -> None:
    """After commit and the block's events, every socket of the user is disconnected; the
    sessions revoked with it are marked so a socket connecting meanwhile is refused."""
    _pending_last().append(
        Revocation(kind="cut_user", user_id=user_id, session_ids=tuple(session_ids))
    )


def _pending_first() -> list[Revocation]:
    work = uow.current_work()
    pending: list[Revocation] = work.slot(_SLOT, list)
    if not pending:
        uow.on_commit(_SLOT, lambda: _run(pending))
    return pending


def _pending_last() -> list[Revocation]:
    # A `last` effect registered after the emitter's (the caller queued its event first), so
    # the farewell event is published before the disconnects.
    work = uow.current_work()
    pending: list[Revocation] = work.slot(_SLOT + ".cut", list)
    if not pending:
        uow.on_commit(_SLOT + ".cut", lambda: _run(pending), last=True)
    return pending


async def _run(items: list[Revocation]) -> None:
    for item in items:
        try:
            await apply(item)
        except Exception:  # one failed effect must not spare the other sockets
            log.exception("revocation failed", kind=item.kind, user_id=item.user_id)


async def apply(item: Revocation) -> None:
    """Carry one revocation out now (the after-commit effect)."""
    if _operator is not None:
        result = _operator(item)
        if inspect.isawaitable(result):
            await result
        return
    if item.kind == "leave":
        assert item.user_id is not None
        await leave_now(item.user_id, list(item.rooms))
    elif item.kind == "cut_session":
        await cut_session_now(item.session_ids[0])
    else:
        assert item.user_id is not None
        await cut_user_now(item.user_id, list(item.session_ids))


# --- doing it, through the Socket.IO manager on the Redis backplane -----------------------------


async def leave_now(user_id: int, rooms: list[str]) -> None:
    manager = _manager()
    for sid in await presence.user_sids(user_id):
        for room in rooms:
            await manager.leave_room(sid, NAMESPACE, room)


async def _disconnect(sids: list[str]) -> None:
    manager = _manager()
    for sid in sids:
        # A write-only manager holds no socket: can_disconnect publishes the disconnect for the
        # process that holds it (AsyncPubSubManager), which also takes it out of every room.
        await manager.can_disconnect(sid, NAMESPACE)


async def cut_session_now(session_id: str) -> None:
    await mark_revoked([session_id])
    await _disconnect(await session_sids(session_id))


async def cut_user_now(user_id: int, session_ids: list[str]) -> None:
    await mark_revoked(session_ids)
    sids = set(await presence.user_sids(user_id))
    for session_id in session_ids:
        sids.update(await session_sids(session_id))
    await _disconnect(sorted(sids))


# --- the session registry and the revocation markers ---------------------------------------------


def _session_key(session_id: str) -> str:
    return f"sockets:session:{session_id}"


def _marker_key(session_id: str) -> str:
    return f"revoked:session:{session_id}"


async def mark_revoked(session_ids: list[str]) -> None:
    if not session_ids:
        return
    pipe = get_redis().pipeline(transaction=False)
    for session_id in session_ids:
        pipe.set(_marker_key(session_id), "1", ex=MARKER_TTL_S)
    await pipe.execute()


async def register(sid: str, session_id: str) -> None:
    """Record a connecting socket under its session, before its connect handler reads
    `is_revoked` (see there)."""
    key = _session_key(session_id)
    pipe = get_redis().pipeline(transaction=False)
    pipe.zadd(key, {sid: time.time() + presence.TTL_S})
    pipe.expire(key, presence.TTL_S * 2)
    await pipe.execute()


async def is_revoked(session_id: str) -> bool:
    """Whether the session was cut within the last minutes, read at the end of a connect.

    The socket's entry is written before this is read, and `cut_*` writes the marker before it
    reads the entries: whichever runs second sees the other, so a socket connecting while its
    session is revoked is either refused here or found and disconnected by the effect.
    """
    return bool(await get_redis().exists(_marker_key(session_id)))


async def unregister(sid: str, session_id: str) -> None:
    await get_redis().zrem(_session_key(session_id), sid)


async def refresh(entries: dict[str, str]) -> None:
    """Heartbeat for this process's sockets (sid -> session id)."""
    if not entries:
        return
    expiry = time.time() + presence.TTL_S
    pipe = get_redis().pipeline(transaction=False)
    for sid, session_id in entries.items():
        pipe.zadd(_session_key(session_id), {sid: expiry})
        pipe.expire(_session_key(session_id), presence.TTL_S * 2)
    await pipe.execute()


async def session_sids(session_id: str) -> list[str]:
    members = await get_redis().zrangebyscore(_session_key(session_id), time.time(), "+inf")
    return [str(sid) for sid in members]
