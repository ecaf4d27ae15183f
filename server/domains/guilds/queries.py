"""Guild reads and access_* helpers: load what the caller may see, or raise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from db.guilds.tables import AuditLog, Channel, Guild, GuildMember
from realtime import presence
from server.domains.auth.schemas import CurrentUser
from server.domains.guilds.schemas import (
    AuditEntry,
    AuditUser,
    CategoryRead,
    ChannelKind,
    ChannelRead,
    ChannelsRead,
    GuildRead,
    GuildRole,
    MemberRead,
    MembershipRead,
)
from server.errors import Forbidden, NotFound

MODERATOR_ROLES = ("owner", "moderator")


class GuildRow(msgspec.Struct, frozen=True):
    """An active guild of the caller's platform, as access_guild loads it."""

    id: int
    platform: str
    slug: str
    name: str


class MemberRow(msgspec.Struct, frozen=True):
    """One membership row (a user's standing in a guild)."""

    role: GuildRole
    joined_at: datetime
    timeout_until: datetime | None
    paid_access: bool


class ChannelRow(msgspec.Struct, frozen=True):
    """A channel row, field names as its columns (guild, category are ids)."""

    id: int
    guild: int
    category: int | None
    name: str
    kind: ChannelKind
    requires_paid: bool
    slow_mode_s: int
    position: int
    last_seq: int


class Access(msgspec.Struct, frozen=True):
    """A caller's standing in a guild, enough to authorize any chat action."""

    guild_id: int
    platform: str
    role: str
    paid_access: bool
    timeout_until: datetime | None

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATOR_ROLES

    def timed_out(self, now: datetime | None = None) -> bool:
        return self.timeout_until is not None and self.timeout_until > (now or _now())


class ChannelAccess(msgspec.Struct, frozen=True):
    channel: ChannelRow
    access: Access

    @property
    def can_read(self) -> bool:
        return can_read(self.channel, self.access)

    @property
    def can_send(self) -> bool:
        return can_send(self.channel, self.access)


def _now() -> datetime:
    return datetime.now(UTC)


def can_read(channel: ChannelRow, access: Access) -> bool:
    return not channel.requires_paid or access.paid_access or access.is_moderator


def can_send(channel: ChannelRow, access: Access) -> bool:
    if not can_read(channel, access) or access.timed_out():
        return False
    return channel.kind != "announcement" or access.is_moderator


async def access_guild(user: CurrentUser, slug: str) -> GuildRow:
    rows = await Guild.raw(
        "SELECT id, platform, slug, name FROM guilds WHERE slug = {} AND platform = {} AND active",
        slug,
        user.platform,
    )
    if not rows:
        raise NotFound("No such guild", code="guild_not_found")
    return msgspec.convert(rows[0], GuildRow)


async def membership(guild_id: int, user_id: int) -> MemberRow | None:
    rows = await GuildMember.raw(
        "SELECT role, joined_at, timeout_until, paid_access FROM guild_members "
        'WHERE guild = {} AND "user" = {}',
        guild_id,
        user_id,
    )
    return msgspec.convert(rows[0], MemberRow) if rows else None


async def access_member(user: CurrentUser, guild: GuildRow) -> Access:
    row = await membership(guild.id, user.id)
    if row is None:
        raise Forbidden("Join this guild first", code="not_member")
    return Access(
        guild_id=guild.id,
        platform=guild.platform,
        role=row.role,
        paid_access=row.paid_access,
        timeout_until=row.timeout_until,
    )


async def access_moderator(user: CurrentUser, guild: GuildRow) -> Access:
    access = await access_member(user, guild)
    if not access.is_moderator:
        raise Forbidden("Only moderators can do this", code="moderator_required")
    return access


async def access_channel(user: CurrentUser, channel_id: int) -> ChannelAccess:
    """The channel and the caller's standing; refuses non-members and locked paid channels."""
    rows = await Channel.raw(
        "SELECT c.*, g.platform, g.active, m.role, m.paid_access, m.timeout_until, "
        "m.id AS member_id FROM channels c JOIN guilds g ON g.id = c.guild "
        'LEFT JOIN guild_members m ON m.guild = c.guild AND m."user" = {} WHERE c.id = {}',
        user.id,
        channel_id,
    )
    if not rows or rows[0]["platform"] != user.platform or not rows[0]["active"]:
        raise NotFound("No such channel", code="channel_not_found")
    row = rows[0]
    if row["member_id"] is None:
        raise Forbidden("Join this guild first", code="not_member")
    access = Access(
        guild_id=row["guild"],
        platform=row["platform"],
        role=row["role"],
        paid_access=row["paid_access"],
        timeout_until=row["timeout_until"],
    )
    result = ChannelAccess(channel=msgspec.convert(row, ChannelRow), access=access)
    if not result.can_read:
        raise Forbidden("This channel needs an active paid membership", code="paid_required")
    return result


async def list_guilds(user: CurrentUser) -> list[GuildRead]:
    rows = await Guild.raw(
        "SELECT g.*, (SELECT count(*) FROM guild_members x WHERE x.guild = g.id) AS member_count, "
        "m.role AS my_role FROM guilds g LEFT JOIN guild_members m "
        'ON m.guild = g.id AND m."user" = {} WHERE g.platform = {} AND g.active '
        "ORDER BY g.id",
        user.id,
        user.platform,
    )
    return [_guild_read(r, user) for r in rows]


def _guild_read(row: dict[str, Any], user: CurrentUser) -> GuildRead:
    return GuildRead(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        banner_url=row["banner_url"],
        tier=row["tier"],
        member_count=row["member_count"],
        is_member=row["my_role"] is not None,
        my_role=row["my_role"],
        is_primary=user.primary_guild_id == row["id"],
    )


async def get_guild_read(user: CurrentUser, slug: str) -> GuildRead:
    guild = await access_guild(user, slug)
    for item in await list_guilds(user):
        if item.id == guild.id:
            return item
    raise NotFound("No such guild", code="guild_not_found")


def channel_read(channel: ChannelRow, access: Access, last_read_seq: int) -> ChannelRead:
    readable = can_read(channel, access)
    return ChannelRead(
        id=channel.id,
        guild_id=channel.guild,
        category_id=channel.category,
        name=channel.name,
        kind=channel.kind,
        requires_paid=channel.requires_paid,
        slow_mode_s=channel.slow_mode_s,
        position=channel.position,
        last_seq=channel.last_seq,
        last_read_seq=last_read_seq,
        unread=max(0, channel.last_seq - last_read_seq) if readable else 0,
        can_read=readable,
        can_send=can_send(channel, access),
    )


async def list_channels(user: CurrentUser, slug: str) -> ChannelsRead:
    guild = await access_guild(user, slug)
    access = await access_member(user, guild)
    channels = await Channel.raw(
        "SELECT c.*, COALESCE(r.last_read_seq, 0) AS last_read_seq, "
        "cat.name AS category_name, cat.position AS category_position FROM channels c "
        "LEFT JOIN channel_categories cat ON cat.id = c.category "
        'LEFT JOIN read_markers r ON r.channel = c.id AND r."user" = {} '
        "WHERE c.guild = {} ORDER BY cat.position NULLS FIRST, cat.id, c.position, c.id",
        user.id,
        guild.id,
    )
    categories: dict[int | None, CategoryRead] = {}
    for c in channels:
        cat = categories.setdefault(
            c["category"],
            CategoryRead(
                id=c["category"],
                name=c["category_name"] or "",
                position=c["category_position"] or 0,
                channels=[],
            ),
        )
        row = msgspec.convert(c, ChannelRow)
        cat.channels.append(channel_read(row, access, c["last_read_seq"]))
    return ChannelsRead(guild_id=guild.id, categories=list(categories.values()))


async def membership_read(user: CurrentUser, slug: str) -> MembershipRead:
    guild = await access_guild(user, slug)
    row = await membership(guild.id, user.id)
    if row is None:
        raise NotFound("You are not a member of this guild", code="not_member")
    return MembershipRead(
        guild_id=guild.id,
        role=row.role,
        joined_at=row.joined_at,
        timeout_until=row.timeout_until,
        paid_access=row.paid_access,
        primary=user.primary_guild_id == guild.id,
    )


async def user_guild_ids(user_id: int) -> list[int]:
    # Raw SQL: every socket connect and disconnect asks, and in a reconnect storm (a deploy)
    # building the ORM query cost more CPU than PostgreSQL's answer (connect profile).
    rows = await GuildMember.raw('SELECT guild FROM guild_members WHERE "user" = {}', user_id)
    return [r["guild"] for r in rows]


async def guild_channel_ids(guild_id: int) -> list[int]:
    rows = await Channel.select(Channel.id).where(Channel.guild == guild_id)
    return [r["id"] for r in rows]


async def list_members(user: CurrentUser, slug: str, online_only: bool) -> list[MemberRead]:
    guild = await access_guild(user, slug)
    await access_member(user, guild)
    rows = await GuildMember.raw(
        'SELECT m."user" AS user_id, u.display_name, m.role, m.timeout_until '
        'FROM guild_members m JOIN users u ON u.id = m."user" WHERE m.guild = {} '
        "ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'moderator' THEN 1 ELSE 2 END, "
        "u.display_name, m.id LIMIT 1000",
        guild.id,
    )
    online = await presence.online_among([r["user_id"] for r in rows])
    members = [
        MemberRead(
            user_id=r["user_id"],
            display_name=r["display_name"],
            role=r["role"],
            online=r["user_id"] in online,
            timeout_until=r["timeout_until"],
        )
        for r in rows
    ]
    return [m for m in members if m.online] if online_only else members


async def audit_log(
    user: CurrentUser, slug: str, before_id: int | None, limit: int
) -> list[AuditEntry]:
    guild = await access_guild(user, slug)
    await access_moderator(user, guild)
    rows = await AuditLog.raw(
        "SELECT a.*, ua.display_name AS actor_name, ut.display_name AS target_name "
        "FROM guild_audit_log a LEFT JOIN users ua ON ua.id = a.actor "
        "LEFT JOIN users ut ON ut.id = a.target WHERE a.guild = {} AND a.id < {} "
        "ORDER BY a.id DESC LIMIT {}",
        guild.id,
        before_id or 2**31 - 1,
        limit,
    )
    return [
        AuditEntry(
            id=r["id"],
            action=r["action"],
            reason=r["reason"],
            created_at=r["created_at"],
            details=msgspec.json.decode(r["details"])
            if isinstance(r["details"], str)
            else r["details"],
            actor=AuditUser(r["actor"], r["actor_name"]) if r["actor"] else None,
            target=AuditUser(r["target"], r["target_name"]) if r["target"] else None,
        )
        for r in rows
    ]
