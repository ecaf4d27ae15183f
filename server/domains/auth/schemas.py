"""Auth request and response Structs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import msgspec


class Role(str, Enum):
    MEMBER = "member"
    AFFILIATE = "affiliate"
    PRODUCT_MANAGER = "product_manager"
    ADMIN = "admin"
    OWNER = "owner"


Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Otp = Annotated[str, msgspec.Meta(min_length=1, max_length=12)]


class MagicLinkSend(msgspec.Struct, forbid_unknown_fields=True):
    email: Email


class MagicLinkSent(msgspec.Struct):
    status: str
    message: str


class OtpVerify(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    otp: Otp


class LoginResult(msgspec.Struct):
    redirect: str
    user: UserRead


class UserRead(msgspec.Struct):
    id: int
    platform: str
    email: str
    display_name: str
    role: Role
    status: str
    primary_guild_id: int | None
    created_at: datetime


class CurrentUser(msgspec.Struct, frozen=True):
    """Who is calling: the user row and the session that authenticated them."""

    id: int
    platform: str
    email: str
    display_name: str
    role: Role
    status: str
    primary_guild_id: int | None
    created_at: datetime
    session_id: str
    # Saved language choice; None follows the lang cookie, the browser, then the platform.
    locale: str | None = None

    def read(self) -> UserRead:
        return UserRead(
            id=self.id,
            platform=self.platform,
            email=self.email,
            display_name=self.display_name,
            role=self.role,
            status=self.status,
            primary_guild_id=self.primary_guild_id,
            created_at=self.created_at,
        )


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Body of PATCH /api/auth/me."""

    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class LoggedOut(msgspec.Struct):
    status: str = "logged_out"


class SessionRead(msgspec.Struct):
    """One live sign-in of the user (a browser or device)."""

    id: str
    created_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    current: bool


class LocaleChoice(msgspec.Struct, forbid_unknown_fields=True):
    """Body of POST /api/locale: one of server.i18n.SUPPORTED."""

    locale: Annotated[str, msgspec.Meta(max_length=16)]


class LocaleSet(msgspec.Struct):
    locale: str
    saved: bool


class SessionClaims(msgspec.Struct, frozen=True):
    sid: str
    plat: str
    exp: int
    iat: int
