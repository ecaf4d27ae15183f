"""Demo data, created once: running it again changes nothing."""

from __future__ import annotations

import asyncio

import db  # noqa: F401
from db.auth.tables import User
from db.engine import close_pool, open_pool
from db.guilds.tables import Channel, ChannelCategory, Guild, GuildMember
from db.piccolo_conf import DB

# (platform, email, role)
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("weokto", "owner@weokto.local", "owner"),
    ("weokto", "admin@weokto.local", "admin"),
    ("weokto", "affiliate@weokto.local", "affiliate"),
    ("weokto", "member@weokto.local", "member"),
    ("stam", "owner@stam.local", "owner"),
    ("stam", "pm@stam.local", "product_manager"),
    ("stam", "customer@stam.local", "member"),
)

# category -> [(channel, kind, requires_paid)]
LAYOUT: tuple[tuple[str, tuple[tuple[str, str, bool], ...]], ...] = (
    ("Annonces", (("annonces", "announcement", False),)),
    ("Général", (("general", "text", False), ("presentations", "text", False))),
    ("Formations", (("formations", "text", True), ("questions", "text", True))),
    ("Wins", (("wins", "text", False),)),
    ("Support", (("support", "text", False),)),
)

# (platform, slug, name, tier, description, owner email)
GUILDS = (
    (
        "weokto",
        "community-academy",
        "Community Academy",
        "free",
        "Learn to build and grow an online community, with people doing it.",
        "owner@weokto.local",
    ),
    (
        "weokto",
        "tbcb",
        "The Best Community Builder",
        "premium",
        "The premium guild for builders who sell: playbooks, live reviews, wins.",
        "owner@weokto.local",
    ),
    (
        "stam",
        "stam-studio",
        "STAM Studio",
        "premium",
        "Courses, live sessions and chat for STAM members.",
        "owner@stam.local",
    ),
)

DEMO_MESSAGES = {
    "annonces": ("**Bienvenue !** Read the rules in #general and introduce yourself.",),
    "general": (
        "Hello everyone 👋",
        "Welcome! Ask anything here.",
        "Tip: use `**bold**` and `_italics_`, and @mention people.",
    ),
    "wins": ("First 10 paying members this week 🎉",),
}


async def _user_id(platform: str, email: str) -> int:
    row = (
        await User.select(User.id)
        .where((User.platform == platform) & (User.email == email))
        .first()
    )
    return row["id"]


async def seed_users() -> int:
    created = 0
    for platform, email, role in DEMO_ACCOUNTS:
        rows = await User.raw(
            "INSERT INTO users (platform, email, display_name, role, status, created_at) "
            "VALUES ({}, {}, {}, {}, 'active', now()) ON CONFLICT (platform, email) DO NOTHING "
            "RETURNING id",
            platform,
            email,
            email.split("@")[0],
            role,
        )
        created += len(rows)
    return created


async def seed_guild(
    platform: str, slug: str, name: str, tier: str, description: str, owner_email: str
) -> bool:
    if await Guild.exists().where(Guild.slug == slug):
        return False
    async with DB.transaction():  # a guild appears whole or not at all
        await _create_guild(platform, slug, name, tier, description, owner_email)
    return True


async def _create_guild(
    platform: str, slug: str, name: str, tier: str, description: str, owner_email: str
) -> None:
    owner_id = await _user_id(platform, owner_email)
    guild = (
        await Guild.insert(
            Guild(platform=platform, slug=slug, name=name, tier=tier, description=description)
        ).returning(Guild.id)
    )[0]["id"]
    await GuildMember.insert(
        GuildMember(guild=guild, user=owner_id, role="owner", paid_access=True)
    )
    for position, (category, channels) in enumerate(LAYOUT):
        cat = (
            await ChannelCategory.insert(
                ChannelCategory(guild=guild, name=category, position=position)
            ).returning(ChannelCategory.id)
        )[0]["id"]
        for index, (channel, kind, paid) in enumerate(channels):
            chan = (
                await Channel.insert(
                    Channel(
                        guild=guild,
                        category=cat,
                        name=channel,
                        kind=kind,
                        requires_paid=paid,
                        position=index,
                    )
                ).returning(Channel.id)
            )[0]["id"]
            await _seed_messages(chan, owner_id, DEMO_MESSAGES.get(channel, ()))


async def _seed_messages(channel_id: int, author_id: int, texts: tuple[str, ...]) -> None:
    from server.domains.chat.actions import _SEND, prepare

    for i, text in enumerate(texts):
        draft = prepare(text)
        await Channel.raw(
            _SEND.format(table="channels", column="channel"),
            channel_id,
            channel_id,
            author_id,
            f"seed-{channel_id}-{i}",
            draft.content,
            draft.html,
            [],
            author_id,
            channel_id,
        )


async def seed() -> int:
    created = await seed_users()
    for spec in GUILDS:
        created += await seed_guild(*spec)
    created += await seed_affiliate()
    return created


async def seed_affiliate() -> int:
    """The demo affiliate's profile (slug demo-affiliate), created once."""
    from db.affiliates.tables import AffiliateProfile
    from server.domains.affiliates.actions import do_ensure_profile

    user_id = await _user_id("weokto", "affiliate@weokto.local")
    if await AffiliateProfile.exists().where(AffiliateProfile.user == user_id):
        return 0
    await do_ensure_profile(user_id, "demo-affiliate")
    return 1


async def main() -> None:
    await open_pool(max_size=2)
    try:
        created = await seed()
        print(f"seed: {created} demo row(s) created")
    finally:
        await close_pool()


if __name__ == "__main__":
    asyncio.run(main())
