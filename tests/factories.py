"""Row factories for tests: plain inserts with sensible defaults, returning the row as a dict."""

from __future__ import annotations

import itertools
from typing import Any

from db.auth.tables import User
from db.guilds.tables import Channel, ChannelCategory, Guild, GuildMember

_n = itertools.count(1)


async def _insert(table: Any, **values: Any) -> dict[str, Any]:
    rows = await table.insert(table(**values)).returning(*table.all_columns())
    return rows[0]


async def make_user(
    email: str | None = None,
    platform: str = "weokto",
    role: str = "member",
    display_name: str | None = None,
) -> dict[str, Any]:
    email = email or f"user{next(_n)}@example.com"
    return await _insert(
        User,
        platform=platform,
        email=email,
        role=role,
        display_name=display_name or email.split("@")[0],
    )


async def make_guild(
    platform: str = "weokto", slug: str | None = None, tier: str = "free", name: str | None = None
) -> dict[str, Any]:
    slug = slug or f"guild-{next(_n)}"
    return await _insert(Guild, platform=platform, slug=slug, name=name or slug.title(), tier=tier)


async def make_category(guild_id: int, name: str = "Général", position: int = 0) -> dict[str, Any]:
    return await _insert(ChannelCategory, guild=guild_id, name=name, position=position)


async def make_channel(
    guild_id: int,
    name: str = "general",
    kind: str = "text",
    requires_paid: bool = False,
    category_id: int | None = None,
    slow_mode_s: int = 0,
) -> dict[str, Any]:
    return await _insert(
        Channel,
        guild=guild_id,
        name=name,
        kind=kind,
        requires_paid=requires_paid,
        category=category_id,
        slow_mode_s=slow_mode_s,
    )


async def make_member(
    guild_id: int, user_id: int, role: str = "member", paid_access: bool = False
) -> dict[str, Any]:
    return await _insert(
        GuildMember, guild=guild_id, user=user_id, role=role, paid_access=paid_access
    )


def as_user(row: dict[str, Any], session_id: str = "test-session") -> Any:
    """The CurrentUser an action receives for this user row."""
    from server.domains.auth.schemas import CurrentUser, Role

    return CurrentUser(
        id=row["id"],
        platform=row["platform"],
        email=row["email"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        status=row["status"],
        primary_guild_id=row["primary_guild_id"],
        created_at=row["created_at"],
        session_id=session_id,
    )


async def make_room(n_members: int = 2, platform: str = "weokto", **channel: Any) -> dict[str, Any]:
    """A guild with one channel, an owner, a moderator and `n_members` members."""
    guild = await make_guild(platform=platform)
    chan = await make_channel(guild["id"], **channel)
    owner = await make_user(platform=platform, display_name="owner")
    mod = await make_user(platform=platform, display_name="mod")
    await make_member(guild["id"], owner["id"], role="owner")
    await make_member(guild["id"], mod["id"], role="moderator")
    members = []
    for i in range(n_members):
        user = await make_user(platform=platform, display_name=f"member{i}")
        await make_member(guild["id"], user["id"])
        members.append(user)
    return {"guild": guild, "channel": chan, "owner": owner, "mod": mod, "members": members}
