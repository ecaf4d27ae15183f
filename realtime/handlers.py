"""Socket event handlers: decode, re-check the session, authorize, call the same actions as REST."""
from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import structlog

from server.domains.auth.guards import check_roles
from server.domains.auth.queries import user_for_session
from server.domains.auth.schemas import CurrentUser, Role
from server.domains.platforms.queries import Platform
from server.errors import AppError, Unauthorized
from server.jobs import enqueue

log = structlog.get_logger(__name__)
P = TypeVar("P", bound=msgspec.Struct)


class Ack(msgspec.Struct, omit_defaults=True):
    ok: bool
    error: dict[str, Any] | None = None
    data: Any = None


def ok(data: Any = None) -> dict[str, Any]:
    return msgspec.to_builtins(Ack(ok=True, data=data))


def fail(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "details": details}}


async def socket_user(sid: str) -> CurrentUser:
    """The session is re-read on every event, so a logout or suspension bites at once."""
    from realtime.server import sio

    saved = await sio.get_session(sid)
    user = await user_for_session(uuid.UUID(saved["session_id"]), Platform(saved["platform"]))
    if user is None:
        # Answer the event first, then drop the socket (a disconnect now would eat the ack).
        sio.start_background_task(_disconnect_later, sid)
        raise Unauthorized("Your session has ended, sign in again", code="session_ended")
    return user


async def _disconnect_later(sid: str) -> None:
    from realtime.server import sio

    await sio.sleep(0.2)
    await sio.disconnect(sid)


def event(payload_type: type[P], *, roles: tuple[Role, ...] = ()) -> Callable[
        [Callable[[CurrentUser, P, str], Awaitable[Any]]], Callable[..., Awaitable[dict[str, Any]]]]:
    """Wrap a handler: typed payload, guard, and an ack that is never an exception."""
    allowed = frozenset(roles)

    def wrap(fn: Callable[[CurrentUser, P, str], Awaitable[Any]]) -> Callable[..., Awaitable[dict[str, Any]]]:
        @functools.wraps(fn)
        async def handler(sid: str, data: Any = None) -> dict[str, Any]:
            try:
                payload = msgspec.convert(data if data is not None else {}, payload_type)
                user = check_roles(await socket_user(sid), allowed)
                return ok(await fn(user, payload, sid))
            except msgspec.ValidationError as exc:
                return fail("validation_error", str(exc))
            except AppError as exc:
                return fail(exc.code, exc.message, exc.details)
            except Exception:
                log.exception("socket handler failed", handler=fn.__name__)
                return fail("internal_error", "Something went wrong")

        return handler

    return wrap


def _register() -> None:
    from realtime.server import sio

    sio.on("hello", handler=hello)


class Hello(msgspec.Struct, forbid_unknown_fields=False):
    pass


@event(Hello)
async def hello(user: CurrentUser, _: Hello, sid: str) -> dict[str, Any]:
    """The browser is in its user room: ask a worker to push session.welcome through Redis."""
    await enqueue("tasks.realtime.welcome", user.id)
    return {"user_id": user.id}


_register()
