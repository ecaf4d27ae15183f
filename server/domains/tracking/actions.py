"""Tracking state changes: link clicks, last-click attribution, free-guild and purchase attribution.

Each change that moves a dashboard figure touches the affiliate (inside the transaction):
their socket gets `affiliate_update` and the cached stats are dropped, both after commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.guilds.tables import Guild
from db.tracking.tables import Attribution, PurchaseAttribution, TrackingEvent
from db.uow import atomic
from server.domains.affiliates.events import do_touch_affiliate
from server.domains.affiliates.schemas import AffiliateProfileRow
from server.domains.auth.schemas import CurrentUser
from server.domains.tracking import cookie, queries
from server.domains.tracking.cookie import Referral
from server.domains.tracking.schemas import CheckoutReferral, Tracked, Visit
from server.jobs import enqueue
from server.ratelimit import Limit, hit

FREE_PRODUCT_TTL = timedelta(days=30)
# Affiliates who have been around for 90 days get twice as long on free-guild referrals.
SENIOR_FREE_PRODUCT_TTL = timedelta(days=60)
SENIOR_AFTER = timedelta(days=90)
# A person follows a few links an hour; a script inflating an affiliate's clicks is cut off.
TRACK_LIMIT = Limit("affiliate_track", max_hits=60, window_s=600)


def _now() -> datetime:
    return datetime.now(UTC)


async def _touch(profile: AffiliateProfileRow, reason: str) -> None:
    await do_touch_affiliate(profile.id, profile.user, reason)


async def check_track_click(
    slug: str, visit: Visit, user: CurrentUser | None
) -> tuple[Tracked, Referral]:
    """Record a click on `?ref={slug}`; a signed-in visitor is attributed at once."""
    await hit(TRACK_LIMIT, visit.ip, "Too many link visits from this address, try again later")
    profile = await queries.access_affiliate_slug(slug)
    # Whole milliseconds, the cookie's precision: a later claim of the same click must
    # compare equal (and so change nothing).
    now = _now()
    referral = Referral(
        affiliate_id=profile.id,
        clicked_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
    )
    async with atomic():
        await TrackingEvent.insert(
            TrackingEvent(
                affiliate=profile.id,
                ip=visit.ip[:64],
                user_agent=visit.user_agent[:512],
                referrer=visit.referrer[:1000],
                landing_path=visit.landing_path[:1000],
            )
        )
        await _touch(profile, "click")
        if user is not None:
            await do_attribute(user.id, referral)
    tracked = Tracked(tracked=True, affiliate_slug=profile.slug, expires_at=referral.expires_at)
    return tracked, referral


async def check_claim(user: CurrentUser | None, cookie_value: str | None) -> bool:
    """Attribute a signed-in user to the referral their browser carries (if still valid)."""
    referral = cookie.decode(cookie_value)
    if user is None or referral is None:
        return False
    return await do_attribute(user.id, referral)


async def do_attribute(customer_id: int, referral: Referral) -> bool:
    """Last click wins: a newer click replaces the customer's attribution, an older one does not."""
    profile = await queries.affiliate_row(referral.affiliate_id)
    if profile is None or profile.user == customer_id:
        return False  # gone, or an affiliate following their own link
    async with atomic():
        old = await Attribution.raw(
            "SELECT affiliate, clicked_at FROM attributions WHERE customer = {} FOR UPDATE",
            customer_id,
        )
        if old and old[0]["clicked_at"] >= referral.clicked_at:
            return False
        await Attribution.raw(
            "INSERT INTO attributions (customer, affiliate, source, clicked_at, expires_at, "
            "created_at, updated_at) VALUES ({}, {}, 'link', {}, {}, now(), now()) "
            "ON CONFLICT (customer) DO UPDATE SET affiliate = EXCLUDED.affiliate, source = "
            "'link', clicked_at = EXCLUDED.clicked_at, expires_at = EXCLUDED.expires_at, "
            "updated_at = now() WHERE attributions.clicked_at < EXCLUDED.clicked_at",
            customer_id,
            profile.id,
            referral.clicked_at,
            referral.expires_at,
        )
        await _touch(profile, "attribution")
        if old and old[0]["affiliate"] != profile.id:
            previous = await queries.affiliate_row(old[0]["affiliate"])
            if previous is not None:  # their sign-up count just went down
                await _touch(previous, "attribution")
    return True


async def do_free_guild_attribution(user_id: int, guild_id: int) -> bool:
    """Joining a free guild through a referral turns it into a longer free-product attribution."""
    guild = await Guild.select(Guild.tier).where(Guild.id == guild_id).first()
    if guild is None or guild["tier"] != "free":
        return False
    async with atomic():
        rows = await Attribution.raw(
            "SELECT a.id, a.affiliate FROM attributions a WHERE a.customer = {} "
            "AND a.source = 'link' AND a.expires_at > now() FOR UPDATE",
            user_id,
        )
        profile = await queries.affiliate_row(rows[0]["affiliate"]) if rows else None
        if profile is None:
            return False
        senior = profile.created_at <= _now() - SENIOR_AFTER
        ttl = SENIOR_FREE_PRODUCT_TTL if senior else FREE_PRODUCT_TTL
        await Attribution.update(
            {
                Attribution.source: "free_product",
                Attribution.expires_at: _now() + ttl,
                Attribution.updated_at: _now(),
            }
        ).where(Attribution.id == rows[0]["id"])
        await _touch(profile, "attribution")
    return True


async def do_attribute_purchase(purchase_id: int, referral: CheckoutReferral | None) -> bool:
    """Fix the affiliate a purchase earns for, from its checkout metadata (once per purchase).

    Called on every sync of the purchase, so the affiliate is also touched when its status
    (and so their active customers and MRR) changes.
    """
    profile = await queries.affiliate_row(referral.affiliate_id) if referral else None
    if profile is None or referral is None:
        return False
    async with atomic():
        inserted = await PurchaseAttribution.raw(
            "INSERT INTO purchase_attributions (purchase, affiliate, source, created_at) "
            "VALUES ({}, {}, {}, now()) ON CONFLICT (purchase) DO NOTHING RETURNING id",
            purchase_id,
            profile.id,
            referral.source,
        )
        await _touch(profile, "attribution")
    if inserted:  # an invoice synced before this row existed gets its commission now
        await enqueue("tasks.ledger.sync_purchase", purchase_id)
    return True
