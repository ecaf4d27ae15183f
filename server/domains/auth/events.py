"""Auth realtime events and their notify_* builders (actions queue what they return)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

from realtime.emitter import Outgoing
from realtime.rooms import session_room, user_room


class WelcomeUser(msgspec.Struct):
    id: int
    display_name: str
    email: str
    role: str


class SessionWelcome(msgspec.Struct, tag_field="type", tag="session.welcome"):
    """Pushed by a Celery task once a browser's socket says hello: proves the backplane."""

    user: WelcomeUser
    platform: str
    server_time: datetime
    worker: str


RevokeReason = Literal["logout", "revoked", "suspended"]


class SessionRevoked(msgspec.Struct, tag_field="type", tag="session.revoked"):
    """Sent to the sockets about to be disconnected: a logout or a revoked session reaches that
    session's sockets only, a suspension every socket of the user."""

    reason: RevokeReason
    session_id: str | None = None


def notify_welcome(user: WelcomeUser, platform: str, worker: str) -> list[Outgoing]:
    event = SessionWelcome(
        user=user, platform=platform, worker=worker, server_time=datetime.now(UTC)
    )
    return [Outgoing(user_room(user.id), "session.welcome", event)]


def notify_revoked(
    user_id: int, reason: RevokeReason, session_id: str | None = None
) -> list[Outgoing]:
    event = SessionRevoked(reason=reason, session_id=session_id)
    room = session_room(session_id) if session_id is not None else user_room(user_id)
    return [Outgoing(room, "session.revoked", event)]
