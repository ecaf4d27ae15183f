"""Auth reads: resolve a session cookie to the current user; user rows by id or email."""

from __future__ import annotations

import uuid
from datetime import datetime
from http.cookies import SimpleCookie

import msgspec

from db.auth.tables import Session, User
from server.domains.auth.schemas import CurrentUser, Role, SessionRead
from server.domains.auth.security import decode_session
from server.domains.platforms.queries import Platform, branding


def cookie_value(cookie_header: str, name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed Cookie header is treated as no cookie
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


async def user_for_token(token: str | None, platform: Platform) -> CurrentUser | None:
    """The user behind a session token, if the token is valid for this platform right now."""
    if not token:
        return None
    claims = decode_session(token)
    if claims is None or claims.plat != platform.value:
        return None
    try:
        session_id = uuid.UUID(claims.sid)
    except ValueError:
        return None
    return await user_for_session(session_id, platform)


# Raw SQL: this runs on every socket event and every request, and building the equivalent
# Piccolo join query cost more CPU than PostgreSQL's answer (profile of a busy chat server).
_SESSION_USER = (
    "SELECT s.id AS session_id, u.id, u.platform, u.email, u.display_name, u.role, u.status, "
    'u.primary_guild_id, u.created_at, u.locale FROM sessions s JOIN users u ON u.id = s."user" '
    "WHERE s.id = {} AND s.platform = {} AND s.revoked_at IS NULL AND s.expires_at > now() "
    "AND u.status = 'active'"
)


async def user_for_session(session_id: uuid.UUID, platform: Platform) -> CurrentUser | None:
    rows = await Session.raw(_SESSION_USER, session_id, platform.value)
    if not rows:
        return None
    row = rows[0]
    return CurrentUser(
        id=row["id"],
        platform=row["platform"],
        email=row["email"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        status=row["status"],
        primary_guild_id=row["primary_guild_id"],
        created_at=row["created_at"],
        session_id=str(row["session_id"]),
        locale=row["locale"],
    )


async def user_for_cookie_header(cookie_header: str, platform: Platform) -> CurrentUser | None:
    token = cookie_value(cookie_header, branding(platform).cookie_name)
    return await user_for_token(token, platform)


class UserRow(msgspec.Struct, frozen=True):
    """A user row (no secrets in it: users hold none)."""

    id: int
    platform: str
    email: str
    display_name: str
    role: Role
    status: str
    primary_guild_id: int | None
    primary_guild_changed_at: datetime | None
    created_at: datetime
    locale: str | None


_USER = (
    "SELECT id, platform, email, display_name, role, status, primary_guild_id, "
    "primary_guild_changed_at, created_at, locale FROM users WHERE "
)


async def get_user(user_id: int) -> UserRow | None:
    rows = await User.raw(_USER + "id = {}", user_id)
    return msgspec.convert(rows[0], UserRow) if rows else None


async def user_by_email(platform: Platform, email: str) -> UserRow | None:
    rows = await User.raw(_USER + "platform = {} AND email = {}", platform.value, email)
    return msgspec.convert(rows[0], UserRow) if rows else None


async def live_sessions(user: CurrentUser) -> list[SessionRead]:
    """The user's sessions that still work, newest first, the caller's marked."""
    rows = await Session.raw(
        'SELECT id, created_at, expires_at, ip, user_agent FROM sessions WHERE "user" = {} '
        "AND platform = {} AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC",
        user.id,
        user.platform,
    )
    return [
        SessionRead(
            id=str(r["id"]),
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            ip=r["ip"],
            user_agent=r["user_agent"],
            current=str(r["id"]) == user.session_id,
        )
        for r in rows
    ]
