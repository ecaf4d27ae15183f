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

from bench.members import PLATFORM, seed_members
from db.engine import close_pool, open_pool
from db.guilds.tables import Channel, Guild


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
    cookies = await seed_members(guild, n, f"bench-{run}")
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
