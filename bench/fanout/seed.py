"""Seed our own database for the fan-out bench: N users, one guild, one channel, memberships, sessions.

`python -m bench.fanout.seed N OUT_JSON` with the stack's environment (DATABASE_URL, SECRET_KEY):
rows go in directly (it is our database; no login mail round-trip for a thousand users) and
OUT_JSON gets `{"channel_id": ..., "cookies": ["weokto_session=<jwt>", ...]}`, one per user.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

from db.auth.tables import Session, User
from db.engine import close_pool, open_pool
from db.guilds.tables import Channel, Guild, GuildMember
from server.domains.auth.security import encode_session

PLATFORM = "weokto"
COOKIE = "weokto_session"
BATCH = 500


async def seed(n: int) -> dict[str, object]:
    run = uuid.uuid4().hex[:8]
    guild = (
        await Guild.insert(
            Guild(platform=PLATFORM, slug=f"bench-{run}", name=f"Bench {run}")
        ).returning(Guild.id)
    )[0]["id"]
    channel = (await Channel.insert(Channel(guild=guild, name="fanout")).returning(Channel.id))[0][
        "id"
    ]
    users: list[int] = []
    for start in range(0, n, BATCH):
        rows = [
            User(platform=PLATFORM, email=f"bench-{run}-{i}@example.com", display_name=f"bench{i}")
            for i in range(start, min(n, start + BATCH))
        ]
        users += [r["id"] for r in await User.insert(*rows).returning(User.id)]
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions = [uuid.uuid4() for _ in users]
    for start in range(0, n, BATCH):
        part = range(start, min(n, start + BATCH))
        await GuildMember.insert(
            *(
                GuildMember(guild=guild, user=users[i], role="owner" if i == 0 else "member")
                for i in part
            )
        )
        await Session.insert(
            *(
                Session(
                    id=sessions[i],
                    user=users[i],
                    platform=PLATFORM,
                    expires_at=expires,
                    user_agent="bench",
                )
                for i in part
            )
        )
    cookies = [f"{COOKIE}={encode_session(str(sid), PLATFORM)}" for sid in sessions]
    return {"guild_id": guild, "channel_id": channel, "cookies": cookies}


async def main(n: int, out: str) -> None:
    await open_pool(max_size=2)
    try:
        result = await seed(n)
    finally:
        await close_pool()
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
