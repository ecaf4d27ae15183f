"""Demo data, created once: running it again changes nothing."""
from __future__ import annotations

import asyncio

import db  # noqa: F401
from db.auth.tables import User
from db.engine import close_pool, open_pool

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


async def seed() -> int:
    created = 0
    for platform, email, role in DEMO_ACCOUNTS:
        rows = await User.raw(
            "INSERT INTO users (platform, email, display_name, role, status, created_at) "
            "VALUES ({}, {}, {}, {}, 'active', now()) ON CONFLICT (platform, email) DO NOTHING "
            "RETURNING id", platform, email, email.split("@")[0].title(), role)
        created += len(rows)
    return created


async def main() -> None:
    await open_pool(max_size=2)
    try:
        created = await seed()
        print(f"seed: {created} demo account(s) created")
    finally:
        await close_pool()


if __name__ == "__main__":
    asyncio.run(main())
