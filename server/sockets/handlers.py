"""Socket event handlers: decode, re-check the session, authorize, call the same actions as REST."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

import asyncpg
import msgspec
import structlog

from db.engine import UNAVAILABLE_ERRORS
from realtime.rooms import channel_room
from realtime.sio import sio
from server.body_limits import TooDeep
from server.domains.auth.guards import check_roles
from server.domains.auth.queries import user_for_session
from server.domains.auth.schemas import CurrentUser, Role
from server.domains.chat import actions as chat
from server.domains.chat.schemas import (
    ChannelRef,
    EditMessage,
    JoinChannel,
    JoinDm,
    JoinedChannel,
    JoinedDm,
    MarkRead,
    MessageRead,
    MessageRef,
    React,
    ReactResult,
    ReadResult,
    SendDm,
    SendMessage,
    SendResult,
    StreamRef,
)
from server.domains.platforms.queries import Platform
from server.errors import AppError, ClientError, Unauthorized
from server.i18n import DEFAULT_LOCALE, gettext, locale_for_user
from server.jobs import Unavailable, enqueue
from server.ratelimit import (
    SOCKET_DELETE,
    SOCKET_EDIT,
    SOCKET_HELLO,
    SOCKET_JOIN,
    SOCKET_MARK_READ,
    SOCKET_REACT,
    SOCKET_SEND,
    SOCKET_TYPING,
    Limit,
    hit,
)

log = structlog.get_logger(__name__)
P = TypeVar("P", bound=msgspec.Struct)
T = TypeVar("T")
Handler = Callable[[CurrentUser, Any, str], Awaitable[msgspec.Struct]]


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    details: Any = None


class AckOk(msgspec.Struct, Generic[T], kw_only=True):
    """`{"ok": true, "data": ...}`"""

    ok: Literal[True] = True
    data: T


class AckError(msgspec.Struct, kw_only=True):
    """`{"ok": false, "error": {"code", "message", "details"}}`, as REST error bodies."""

    ok: Literal[False] = False
    error: ErrorBody


Ack = AckOk[msgspec.Struct] | AckError


def ok(data: msgspec.Struct) -> AckOk[msgspec.Struct]:
    return AckOk(data=data)


def fail(code: str, message: str, details: Any = None) -> AckError:
    return AckError(error=ErrorBody(code=code, message=message, details=details))


async def refused(sid: str, exc: AppError) -> AckError:
    """A refusal (an AppError) as an error ack, in the socket user's language."""

    message = gettext(exc.message, await socket_locale(sid))
    return fail(exc.code, message, exc.details)


async def _disconnect_later(sid: str) -> None:
    await sio.sleep(0.2)
    await sio.disconnect(sid)


async def socket_user(sid: str) -> CurrentUser:
    """The session is re-read on every event, so a logout or suspension bites at once."""
    saved = await sio.get_session(sid)
    user = await user_for_session(uuid.UUID(saved["session_id"]), Platform(saved["platform"]))
    if user is None:
        # Answer the event first, then drop the socket (a disconnect now would eat the ack).
        sio.start_background_task(_disconnect_later, sid)
        raise Unauthorized("Your session has ended, sign in again", code="session_ended")
    return user


class InOrder:
    """One socket's sends run one at a time, in the order its packets arrived.

    The library runs every event in its own task, so three messages typed quickly would race
    for their seq and could be stored 1, 3, 2. A socket's packets arrive in order and their
    tasks start in that order; each takes a FIFO lock before its first await, so the order
    survives. Other sockets, and this socket's other events, are not held up.
    """

    class _Line:
        __slots__ = ("lock", "users")

        def __init__(self) -> None:
            self.lock = asyncio.Lock()
            self.users = 0  # holding or waiting for the lock

    def __init__(self) -> None:
        self._locks: dict[str, InOrder._Line] = {}

    @contextlib.asynccontextmanager
    async def turn(self, sid: str) -> AsyncIterator[None]:
        line = self._locks.get(sid) or self._locks.setdefault(sid, InOrder._Line())
        line.users += 1
        try:
            async with line.lock:
                yield
        finally:
            line.users -= 1
            if not line.users:
                del self._locks[sid]  # nothing kept per idle socket

    def __len__(self) -> int:
        return len(self._locks)


IN_ORDER = InOrder()
# The budget of every registered event (server/ratelimit.py), per user and kind: each event
# writes or pushes something, so none is unlimited (a test checks the registry against sio).
LIMITS: dict[str, Limit] = {}


def _decode(data: Any, payload_type: type[P]) -> P:
    if isinstance(data, TooDeep):
        raise ClientError("This payload is nested too deeply", code="payload_too_deep")
    return msgspec.convert(data if data is not None else {}, payload_type)


def event(
    name: str,
    payload_type: type[P],
    *,
    limit: Limit,
    roles: tuple[Role, ...] = (),
    in_order: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler: typed payload, guard, rate limit, and an ack that is never an
    exception. A refusal by the limit is an error ack with code rate_limited and retry_after.

    `in_order` handlers of one socket run one after another in arrival order (see InOrder).
    """
    allowed = frozenset(roles)
    LIMITS[name] = limit

    def wrap(fn: Handler) -> Handler:
        async def answer(sid: str, data: Any) -> Ack:
            try:
                payload = _decode(data, payload_type)
                user = check_roles(await socket_user(sid), allowed)
                await hit(limit, str(user.id), "You are doing this too often, wait a moment")
                return ok(await fn(user, payload, sid))
            except msgspec.ValidationError as exc:
                return fail("validation_error", str(exc))
            except AppError as exc:
                return await refused(sid, exc)
            except asyncpg.DataError:
                return fail("invalid_input", "A value is out of range")
            except UNAVAILABLE_ERRORS:
                # PostgreSQL down or restarting: a clear "try again", not a hang or a 500.
                log.warning("socket handler: database unavailable", handler=name)
                return await refused(
                    sid, Unavailable("The service is briefly unavailable, try again shortly")
                )
            except Exception:
                log.exception("socket handler failed", handler=name)
                return fail("internal_error", "Something went wrong")

        async def guarded(sid: str, data: Any = None) -> Any:
            # The one place an ack leaves: python-socketio sends builtins only.
            return msgspec.to_builtins(await answer(sid, data))

        async def ordered(sid: str, data: Any = None) -> Any:
            async with IN_ORDER.turn(sid):  # taken before the first await, see InOrder
                return await guarded(sid, data)

        sio.on(name, handler=functools.wraps(fn)(ordered if in_order else guarded))

        return fn

    return wrap


class Hello(msgspec.Struct):
    pass


class Welcoming(msgspec.Struct):
    user_id: int


class Done(msgspec.Struct):
    """An ack with nothing to say: `data` is `{}`."""


class MessageAck(msgspec.Struct):
    message: MessageRead


class TypingAck(msgspec.Struct):
    sent: bool


@event("hello", Hello, limit=SOCKET_HELLO)
async def hello(user: CurrentUser, _: Hello, sid: str) -> Welcoming:
    """The browser is in its user room: ask a worker to push session.welcome through Redis."""
    await enqueue("tasks.realtime.welcome", user.id)
    return Welcoming(user_id=user.id)


@event("join_channel", JoinChannel, limit=SOCKET_JOIN)
async def join_channel(user: CurrentUser, p: JoinChannel, sid: str) -> JoinedChannel:
    async def enter(rooms: list[str]) -> None:
        for room in rooms:
            await sio.enter_room(sid, room)

    return await chat.check_join_channel(user, p.channel_id, p.since_seq, enter)


@event("leave_channel", ChannelRef, limit=SOCKET_JOIN)
async def leave_channel(user: CurrentUser, p: ChannelRef, sid: str) -> Done:
    await sio.leave_room(sid, channel_room(p.channel_id))
    return Done()


@event("send_message", SendMessage, limit=SOCKET_SEND, in_order=True)
async def send_message(user: CurrentUser, p: SendMessage, sid: str) -> SendResult:
    return await chat.check_send_message(user, p.channel_id, p.content, p.client_msg_id)


@event("send_dm", SendDm, limit=SOCKET_SEND, in_order=True)
async def send_dm(user: CurrentUser, p: SendDm, sid: str) -> SendResult:
    return await chat.check_send_dm(user, p.user_id, p.content, p.client_msg_id)


@event("join_dm", JoinDm, limit=SOCKET_JOIN)
async def join_dm(user: CurrentUser, p: JoinDm, sid: str) -> JoinedDm:
    return await chat.check_join_dm(user, p.user_id, p.since_seq)


@event("edit_message", EditMessage, limit=SOCKET_EDIT)
async def edit_message(user: CurrentUser, p: EditMessage, sid: str) -> MessageAck:
    return MessageAck(message=await chat.check_edit_message(user, p.message_id, p.content))


@event("delete_message", MessageRef, limit=SOCKET_DELETE)
async def delete_message(user: CurrentUser, p: MessageRef, sid: str) -> MessageAck:
    return MessageAck(message=await chat.check_delete_message(user, p.message_id))


@event("react", React, limit=SOCKET_REACT)
async def react(user: CurrentUser, p: React, sid: str) -> ReactResult:
    return await chat.check_react(user, p.message_id, p.emoji)


@event("typing", StreamRef, limit=SOCKET_TYPING)
async def typing(user: CurrentUser, p: StreamRef, sid: str) -> TypingAck:
    return TypingAck(sent=await chat.check_typing(user, p.channel_id, p.user_id, sid))


@event("mark_read", MarkRead, limit=SOCKET_MARK_READ)
async def mark_read(user: CurrentUser, p: MarkRead, sid: str) -> ReadResult:
    return await chat.check_mark_read(user, p.seq, p.channel_id, p.user_id)


async def socket_locale(sid: str) -> str:
    """A socket's reader: the user's saved language, else the platform's (a socket has no
    Accept-Language worth trusting after the handshake). Read on error paths only."""
    try:
        saved = await sio.get_session(sid)
        platform = Platform(saved["platform"])
    except Exception:  # no session yet (refused connect): nothing better than the default
        return DEFAULT_LOCALE
    try:
        user = await user_for_session(uuid.UUID(saved["session_id"]), platform)
    except UNAVAILABLE_ERRORS:  # answering an outage: the platform's language
        user = None
    return locale_for_user(user, platform)
