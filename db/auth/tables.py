"""Auth tables: one account per (platform, email); hashed login tokens; revocable sessions."""

from __future__ import annotations

from piccolo.columns import UUID, Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table


class User(Table, tablename="users"):
    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16, index=True)
    email = Varchar(length=320)
    display_name = Varchar(length=80, default="")
    role = Varchar(length=32, default="member")
    status = Varchar(length=16, default="active")
    # Set when a WEOKTO member picks a guild (guilds domain adds the FK target later).
    primary_guild_id = Integer(null=True, default=None)
    # The primary guild may change once per 30 days.
    primary_guild_changed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)
    # The language the user chose ("fr", "en"); NULL follows the browser or the platform.
    locale = Varchar(length=8, null=True, default=None)

    unique_platform_email = Unique(["platform", "email"])


class LoginToken(Table, tablename="login_tokens"):
    """One emailed sign-in: a link token and a 6-digit code, stored only as hashes."""

    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16)
    email = Varchar(length=320, index=True)
    token_hash = Varchar(length=64, unique=True)
    otp_hash = Varchar(length=64)
    attempts = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    dead = Boolean(default=False)


class Session(Table, tablename="sessions"):
    id = UUID(primary_key=True)
    user = ForeignKey(User, index=True)
    platform = Varchar(length=16)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=256, default="")
