"""Auth realtime events and their builders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

from realtime import emitter
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


def notify_welcome(user: WelcomeUser, platform: str, worker: str) -> None:
    event = SessionWelcome(
        user=user, platform=platform, worker=worker, server_time=datetime.now(UTC)
    )
    emitter.queue(user_room(user.id), "session.welcome", event)


def notify_revoked(
    user_id: int, reason: Literal["logout", "suspended"], session_id: str | None = None
) -> None:
    emitter.queue(
        user_room(user_id), "session.revoked", SessionRevoked(reason=reason, session_id=session_id)
    )
