"""Auth reads: resolve a session cookie to the current user."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from http.cookies import SimpleCookie

from db.auth.tables import Session, User
from server.domains.auth.schemas import CurrentUser, Role
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


async def user_for_session(session_id: uuid.UUID, platform: Platform) -> CurrentUser | None:
    row = await (
        Session.select(
            Session.id, Session.expires_at, Session.revoked_at, Session.platform,
            *Session.user.all_columns(),
        )
        .where(Session.id == session_id)
        .first()
        .output(nested=True)
    )
    if row is None or row["platform"] != platform.value or row["revoked_at"] is not None:
        return None
    if row["expires_at"] <= datetime.now(timezone.utc):
        return None
    user = row["user"]
    if user["status"] != "active":
        return None
    return CurrentUser(
        id=user["id"], platform=user["platform"], email=user["email"],
        display_name=user["display_name"], role=Role(user["role"]), status=user["status"],
        primary_guild_id=user["primary_guild_id"], created_at=user["created_at"],
        session_id=str(row["id"]),
    )


async def user_for_cookie_header(cookie_header: str, platform: Platform) -> CurrentUser | None:
    token = cookie_value(cookie_header, branding(platform).cookie_name)
    return await user_for_token(token, platform)


async def get_user(user_id: int) -> dict | None:
    return await User.select().where(User.id == user_id).first()
