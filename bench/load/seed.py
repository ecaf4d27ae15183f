"""Rows for a soak: N users, one guild, C channels, every user a member, a session each.

Written straight to the database (a thousand sign-ins by mail would be the test, not the setup);
the caller has opened the pool with the stack's DATABASE_URL and SECRET_KEY in the environment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bench.members import PLATFORM, seed_members


@dataclass
class Seeded:
    guild_id: int
    channel_ids: list[int]
    cookies: list[str]  # one `weokto_session=<jwt>` per user, in user order


async def seed_soak(users: int, channels: int) -> Seeded:
    from db.guilds.tables import Channel, Guild

    run = uuid.uuid4().hex[:8]
    guild = (
        await Guild.insert(
            Guild(platform=PLATFORM, slug=f"soak-{run}", name=f"Soak {run}")
        ).returning(Guild.id)
    )[0]["id"]
    rows = await Channel.insert(
        *(Channel(guild=guild, name=f"soak-{n}", position=n) for n in range(channels))
    ).returning(Channel.id)
    channel_ids = sorted(r["id"] for r in rows)
    cookies = await seed_members(guild, users, f"soak-{run}")
    return Seeded(guild_id=guild, channel_ids=channel_ids, cookies=cookies)
