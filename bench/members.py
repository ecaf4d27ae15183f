"""Members with sessions for a load run: N users in one guild, a session cookie each.

Written straight to the database (a thousand sign-ins by mail would be the test, not the setup).
The db and server modules are imported when called: the caller first points DATABASE_URL and
SECRET_KEY at the stack under test, and the settings are read at import.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

BATCH = 500
PLATFORM = "weokto"
COOKIE = "weokto_session"


async def seed_members(guild_id: int, n: int, prefix: str) -> list[str]:
    """`weokto_session=<jwt>` for each of N new users, the first the guild's owner."""
    from db.auth.tables import Session, User
    from db.guilds.tables import GuildMember
    from server.domains.auth.security import encode_session

    label = prefix.split("-")[0]  # short display names: they are in every message's payload
    ids: list[int] = []
    for start in range(0, n, BATCH):
        batch = [
            User(platform=PLATFORM, email=f"{prefix}-{i}@example.com", display_name=f"{label}{i}")
            for i in range(start, min(n, start + BATCH))
        ]
        ids += [r["id"] for r in await User.insert(*batch).returning(User.id)]
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions = [uuid.uuid4() for _ in ids]
    for start in range(0, n, BATCH):
        part = range(start, min(n, start + BATCH))
        await GuildMember.insert(
            *(
                GuildMember(guild=guild_id, user=ids[i], role="owner" if i == 0 else "member")
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
                    user_agent=label,
                )
                for i in part
            )
        )
    return [f"{COOKIE}={encode_session(str(sid), PLATFORM)}" for sid in sessions]
