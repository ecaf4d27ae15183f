"""Rows for a soak: N users, one guild, C channels, every user a member, a session each.

Written straight to the database (a thousand sign-ins by mail would be the test, not the setup);
the caller has opened the pool with the stack's DATABASE_URL and SECRET_KEY in the environment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

BATCH = 500
PLATFORM = "weokto"
COOKIE = "weokto_session"


@dataclass
class Seeded:
    guild_id: int
    channel_ids: list[int]
    cookies: list[str]  # one `weokto_session=<jwt>` per user, in user order


async def seed_soak(users: int, channels: int) -> Seeded:
    from db.auth.tables import Session, User
    from db.guilds.tables import Channel, Guild, GuildMember
    from server.domains.auth.security import encode_session

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
    ids: list[int] = []
    for start in range(0, users, BATCH):
        batch = [
            User(platform=PLATFORM, email=f"soak-{run}-{i}@example.com", display_name=f"soak{i}")
            for i in range(start, min(users, start + BATCH))
        ]
        ids += [r["id"] for r in await User.insert(*batch).returning(User.id)]
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions = [uuid.uuid4() for _ in ids]
    for start in range(0, users, BATCH):
        part = range(start, min(users, start + BATCH))
        await GuildMember.insert(
            *(
                GuildMember(guild=guild, user=ids[i], role="owner" if i == 0 else "member")
                for i in part
            )
        )
        await Session.insert(
            *(
                Session(
                    id=sessions[i],
                    user=ids[i],
                    platform=PLATFORM,
                    expires_at=expires,
                    user_agent="soak",
                )
                for i in part
            )
        )
    cookies = [f"{COOKIE}={encode_session(str(sid), PLATFORM)}" for sid in sessions]
    return Seeded(guild_id=guild, channel_ids=channel_ids, cookies=cookies)
