"""Auth realtime events and their notify_* builders (actions queue what they return)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

from realtime.emitter import Outgoing
from realtime.rooms import user_room


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


class SessionRevoked(msgspec.Struct, tag_field="type", tag="session.revoked"):
    reason: Literal["logout", "suspended"]
    session_id: str | None = None


def notify_welcome(user: WelcomeUser, platform: str, worker: str) -> list[Outgoing]:
    event = SessionWelcome(
        user=user, platform=platform, worker=worker, server_time=datetime.now(UTC)
    )
    return [Outgoing(user_room(user.id), "session.welcome", event)]


def notify_revoked(
    user_id: int, reason: Literal["logout", "suspended"], session_id: str | None = None
) -> list[Outgoing]:
    event = SessionRevoked(reason=reason, session_id=session_id)
    return [Outgoing(user_room(user_id), "session.revoked", event)]
