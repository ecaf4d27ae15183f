"""Guild state changes: join, leave, primary guild, moderation (with the audit log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

from db.auth.tables import User
from db.guilds.tables import AuditLog, Channel, GuildBan, GuildMember
from db.uow import atomic
from realtime import emitter, revoke
from realtime.rooms import channel_room, guild_room
from server.domains.auth.queries import get_user
from server.domains.auth.schemas import CurrentUser
from server.domains.guilds import events
from server.domains.guilds.events import AccessReason
from server.domains.guilds.queries import (
    MODERATOR_ROLES,
    Access,
    ChannelRow,
    GuildRow,
    MemberRow,
    access_channel,
    access_guild,
    access_member,
    access_moderator,
    channel_read,
    guild_channel_ids,
    membership,
)
from server.domains.guilds.schemas import (
    ChannelRead,
    GuildRole,
    ModerationResult,
    PrimaryGuildRead,
)
from server.domains.tracking.actions import do_free_guild_attribution
from server.errors import ClientError, Conflict, Forbidden, NotFound

PRIMARY_LOCK = timedelta(days=30)


async def _removed(guild_id: int, user_id: int, action: Literal["kick", "ban", "leave"]) -> None:
    """Inside the removal's unit of work: once it commits, the user's sockets (on any process)
    leave the guild's rooms, then they are told which channels they lost."""
    channels = await guild_channel_ids(guild_id)
    revoke.leave(user_id, [guild_room(guild_id), *(channel_room(c) for c in channels)])
    emitter.queue_all(events.notify_access_ended(user_id, guild_id, channels, action))


async def _paid_channel_ids(guild_id: int) -> list[int]:
    rows = await Channel.raw(
        "SELECT id FROM channels WHERE guild = {} AND requires_paid ORDER BY id", guild_id
    )
    return [r["id"] for r in rows]


async def do_paid_access_lost(user_id: int, guild_id: int, reason: AccessReason) -> list[int]:
    """Call inside the unit of work that took a member's paid access (or moderator role) away:
    once it commits, their sockets leave the paid channels they can no longer read, and they
    get `access_ended`. Returns those channels (none for a moderator, who reads them all)."""
    member = await membership(guild_id, user_id)
    if member is None or member.role in MODERATOR_ROLES or member.paid_access:
        return []
    channels = await _paid_channel_ids(guild_id)
    revoke.leave(user_id, [channel_room(c) for c in channels])
    # Told even without a paid channel to leave: the paid access itself is what ended.
    emitter.queue_all(events.notify_access_ended(user_id, guild_id, channels, reason))
    return channels


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(
    guild_id: int,
    actor_id: int | None,
    target_id: int | None,
    action: str,
    reason: str = "",
    **details: Any,
) -> AuditLog:
    return AuditLog(
        guild=guild_id,
        actor=actor_id,
        target=target_id,
        action=action,
        reason=reason,
        details=details,
    )


async def check_join(user: CurrentUser, slug: str) -> GuildRow:
    guild = await access_guild(user, slug)
    banned = await GuildBan.exists().where(
        (GuildBan.guild == guild.id) & (GuildBan.user == user.id)
    )
    if banned:
        raise Forbidden("You are banned from this guild", code="banned")
    async with atomic():
        await GuildMember.raw(
            'INSERT INTO guild_members (guild, "user", role, joined_at, paid_access) '
            "VALUES ({}, {}, 'member', now(), false) ON CONFLICT (guild, \"user\") DO NOTHING",
            guild.id,
            user.id,
        )
    await do_free_guild_attribution(user.id, guild.id)  # joined through a referral
    return guild


async def check_leave(user: CurrentUser, slug: str) -> ModerationResult:
    guild = await access_guild(user, slug)
    access = await access_member(user, guild)
    if access.role == "owner":
        raise ClientError("An owner cannot leave their guild", code="owner_cannot_leave")
    async with atomic():
        await GuildMember.delete().where(
            (GuildMember.guild == guild.id) & (GuildMember.user == user.id)
        )
        emitter.queue_all(events.notify_removed(guild.id, user.id, "leave", ""))
        await _removed(guild.id, user.id, "leave")
    return ModerationResult(guild_id=guild.id, user_id=user.id, action="leave")


async def check_set_primary(user: CurrentUser, slug: str) -> PrimaryGuildRead:
    guild = await access_guild(user, slug)
    await access_member(user, guild)
    row = await get_user(user.id)
    if row is None:
        raise NotFound("No such user", code="user_not_found")
    changed = row.primary_guild_changed_at
    if row.primary_guild_id == guild.id and changed is not None:
        return PrimaryGuildRead(
            guild_id=guild.id, changed_at=changed, next_change_at=changed + PRIMARY_LOCK
        )
    if row.primary_guild_id is not None and changed is not None and _now() < changed + PRIMARY_LOCK:
        available = changed + PRIMARY_LOCK
        raise Conflict(
            f"You can change your primary guild again on {available:%Y-%m-%d}",
            code="primary_guild_locked",
            details={"available_at": available.isoformat()},
        )
    return await do_set_primary(user.id, guild.id)


async def do_set_primary(user_id: int, guild_id: int) -> PrimaryGuildRead:
    now = _now()
    async with atomic():
        await User.update(
            {User.primary_guild_id: guild_id, User.primary_guild_changed_at: now}
        ).where(User.id == user_id)
    return PrimaryGuildRead(guild_id=guild_id, changed_at=now, next_change_at=now + PRIMARY_LOCK)


async def _target(guild: GuildRow, actor: Access, actor_id: int, target_id: int) -> MemberRow:
    """The member a moderator acts on: never the owner, never oneself, moderators only by owners."""
    if target_id == actor_id:
        raise ClientError("You cannot moderate yourself", code="cannot_target_self")
    target = await membership(guild.id, target_id)
    if target is None:
        raise NotFound("That user is not a member of this guild", code="member_not_found")
    if target.role == "owner" or (target.role == "moderator" and actor.role != "owner"):
        raise Forbidden("You cannot moderate this member", code="target_protected")
    return target


async def check_timeout(
    user: CurrentUser, slug: str, target_id: int, seconds: int, reason: str
) -> ModerationResult:
    guild = await access_guild(user, slug)
    actor = await access_moderator(user, guild)
    await _target(guild, actor, user.id, target_id)
    until = _now() + timedelta(seconds=seconds) if seconds else None
    async with atomic():
        await GuildMember.update({GuildMember.timeout_until: until}).where(
            (GuildMember.guild == guild.id) & (GuildMember.user == target_id)
        )
        await AuditLog.insert(
            _audit(
                guild.id,
                user.id,
                target_id,
                "timeout" if until else "timeout_lifted",
                reason,
                seconds=seconds,
                until=until.isoformat() if until else None,
            )
        )
        emitter.queue_all(events.notify_timeout(guild.id, target_id, until, reason))
    return ModerationResult(
        guild_id=guild.id,
        user_id=target_id,
        action="timeout" if until else "timeout_lifted",
        until=until,
    )


async def check_kick(user: CurrentUser, slug: str, target_id: int, reason: str) -> ModerationResult:
    guild = await access_guild(user, slug)
    actor = await access_moderator(user, guild)
    await _target(guild, actor, user.id, target_id)
    async with atomic():
        await GuildMember.delete().where(
            (GuildMember.guild == guild.id) & (GuildMember.user == target_id)
        )
        await AuditLog.insert(_audit(guild.id, user.id, target_id, "kick", reason))
        emitter.queue_all(events.notify_removed(guild.id, target_id, "kick", reason))
        await _removed(guild.id, target_id, "kick")
    return ModerationResult(guild_id=guild.id, user_id=target_id, action="kick")


async def check_ban(user: CurrentUser, slug: str, target_id: int, reason: str) -> ModerationResult:
    guild = await access_guild(user, slug)
    actor = await access_moderator(user, guild)
    target = await membership(guild.id, target_id)
    if target is not None:
        await _target(guild, actor, user.id, target_id)
    elif not await User.exists().where((User.id == target_id) & (User.platform == user.platform)):
        raise NotFound("No such user", code="user_not_found")
    async with atomic():
        await GuildBan.raw(
            'INSERT INTO guild_bans (guild, "user", actor, reason, created_at) '
            'VALUES ({}, {}, {}, {}, now()) ON CONFLICT (guild, "user") DO NOTHING',
            guild.id,
            target_id,
            user.id,
            reason,
        )
        await GuildMember.delete().where(
            (GuildMember.guild == guild.id) & (GuildMember.user == target_id)
        )
        await AuditLog.insert(_audit(guild.id, user.id, target_id, "ban", reason))
        emitter.queue_all(events.notify_removed(guild.id, target_id, "ban", reason))
        await _removed(guild.id, target_id, "ban")
    return ModerationResult(guild_id=guild.id, user_id=target_id, action="ban")


async def check_unban(
    user: CurrentUser, slug: str, target_id: int, reason: str
) -> ModerationResult:
    guild = await access_guild(user, slug)
    await access_moderator(user, guild)
    async with atomic():
        removed = (
            await GuildBan.delete()
            .where((GuildBan.guild == guild.id) & (GuildBan.user == target_id))
            .returning(GuildBan.id)
        )
        if not removed:
            raise NotFound("That user is not banned", code="ban_not_found")
        await AuditLog.insert(_audit(guild.id, user.id, target_id, "unban", reason))
    return ModerationResult(guild_id=guild.id, user_id=target_id, action="unban")


async def check_paid_access(
    user: CurrentUser, slug: str, target_id: int, granted: bool
) -> ModerationResult:
    guild = await access_guild(user, slug)
    actor = await access_member(user, guild)
    if actor.role != "owner":
        raise Forbidden("Only the guild owner can grant paid access", code="owner_required")
    before = await membership(guild.id, target_id)
    if before is None:
        raise NotFound("That user is not a member of this guild", code="member_not_found")
    async with atomic():
        await GuildMember.update({GuildMember.paid_access: granted}).where(
            (GuildMember.guild == guild.id) & (GuildMember.user == target_id)
        )
        await AuditLog.insert(
            _audit(
                guild.id,
                user.id,
                target_id,
                "paid_access_granted" if granted else "paid_access_revoked",
            )
        )
        if before.paid_access and not granted:
            await do_paid_access_lost(target_id, guild.id, "paid_access_removed")
    return ModerationResult(
        guild_id=guild.id,
        user_id=target_id,
        action="paid_access_granted" if granted else "paid_access_revoked",
    )


async def check_set_role(
    user: CurrentUser, slug: str, target_id: int, role: GuildRole
) -> ModerationResult:
    """The owner makes a member a moderator or a moderator a member again."""
    guild = await access_guild(user, slug)
    actor = await access_member(user, guild)
    if actor.role != "owner":
        raise Forbidden("Only the guild owner can change roles", code="owner_required")
    if role == "owner":
        raise ClientError("A guild has one owner", code="invalid_role", details={"field": "role"})
    before = await _target(guild, actor, user.id, target_id)
    async with atomic():
        await GuildMember.update({GuildMember.role: role}).where(
            (GuildMember.guild == guild.id) & (GuildMember.user == target_id)
        )
        await AuditLog.insert(_audit(guild.id, user.id, target_id, "role_changed", role=role))
        if before.role in MODERATOR_ROLES and role not in MODERATOR_ROLES:
            await do_paid_access_lost(target_id, guild.id, "role_changed")
    return ModerationResult(guild_id=guild.id, user_id=target_id, action="role_changed")


async def check_slow_mode(user: CurrentUser, channel_id: int, seconds: int) -> ChannelRead:
    ch = await access_channel(user, channel_id)
    if not ch.access.is_moderator:
        raise Forbidden("Only moderators can do this", code="moderator_required")
    async with atomic():
        rows = (
            await Channel.update({Channel.slow_mode_s: seconds})
            .where(Channel.id == channel_id)
            .returning(*Channel.all_columns())
        )
        await AuditLog.insert(
            _audit(
                ch.access.guild_id,
                user.id,
                None,
                "slow_mode",
                "",
                channel_id=channel_id,
                seconds=seconds,
            )
        )
        read = channel_read(msgspec.convert(rows[0], ChannelRow), ch.access, 0)
        emitter.queue_all(events.notify_channel_updated(read))
    return read
