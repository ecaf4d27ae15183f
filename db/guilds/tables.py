"""Guild tables. A channel's last_seq is the counter its messages are numbered from."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from db.auth.tables import User


class Guild(Table, tablename="guilds"):
    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16, index=True)
    slug = Varchar(length=64, unique=True)
    name = Varchar(length=100)
    description = Text(default="")
    banner_url = Varchar(length=500, default="")
    tier = Varchar(length=16, default="free")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class GuildMember(Table, tablename="guild_members"):
    id: Serial  # the implicit primary key, declared for the type checker

    guild = ForeignKey(Guild, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=16, default="member")
    joined_at = Timestamptz(default=TimestamptzNow())
    timeout_until = Timestamptz(null=True, default=None)
    # Unlocks channels that require a paid membership (billing grants it; an owner can too).
    paid_access = Boolean(default=False)

    unique_member_guild_user = Unique(["guild", "user"])


class GuildBan(Table, tablename="guild_bans"):
    id: Serial  # the implicit primary key, declared for the type checker

    guild = ForeignKey(Guild, on_delete=OnDelete.cascade)
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    actor = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    reason = Varchar(length=500, default="")
    created_at = Timestamptz(default=TimestamptzNow())

    unique_ban_guild_user = Unique(["guild", "user"])


class ChannelCategory(Table, tablename="channel_categories"):
    id: Serial  # the implicit primary key, declared for the type checker

    guild = ForeignKey(Guild, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    position = Integer(default=0)


class Channel(Table, tablename="channels"):
    id: Serial  # the implicit primary key, declared for the type checker

    guild = ForeignKey(Guild, on_delete=OnDelete.cascade, index=True)
    category = ForeignKey(ChannelCategory, null=True, on_delete=OnDelete.set_null)
    name = Varchar(length=100)
    kind = Varchar(length=16, default="text")
    requires_paid = Boolean(default=False)
    slow_mode_s = Integer(default=0)
    position = Integer(default=0)
    last_seq = BigInt(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class AuditLog(Table, tablename="guild_audit_log"):
    id: Serial  # the implicit primary key, declared for the type checker

    guild = ForeignKey(Guild, on_delete=OnDelete.cascade, index=True)
    actor = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    target = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=32)
    reason = Varchar(length=500, default="")
    details = JSONB(default={})
    created_at = Timestamptz(default=TimestamptzNow())
