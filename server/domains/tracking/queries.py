"""Tracking reads: affiliate lookups, checkout attribution, dashboard stats (Redis-cached), lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

from core.redis import get_redis
from db.affiliates.tables import AffiliateProfile
from db.tracking.tables import Attribution
from server.domains.affiliates.events import stats_cache_key
from server.domains.affiliates.queries import balances, balances_from
from server.domains.affiliates.schemas import (
    COMMISSION_CURRENCY,
    AffiliateProfileRow,
    account_sums,
    profile_row,
)
from server.domains.auth.schemas import CurrentUser
from server.domains.paid_access import granted_sql
from server.domains.platforms.queries import Platform, branding
from server.domains.tracking.schemas import (
    AffiliateDetail,
    AffiliateStats,
    AffiliateSummary,
    CheckoutReferral,
    CommissionFilter,
    CommissionRead,
    CustomerRead,
    PayoutRead,
)
from server.errors import NotFound

log = structlog.get_logger(__name__)

STATS_TTL_S = 300
# A reader that computes stats first parks this token under the key, and stores its result
# only if the token is still there: a touch (which deletes the key) in between means the
# result may predate the change, so it is not cached.
_PENDING = "pending:"
_STORE_IF_MINE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end return nil"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _granted() -> tuple[str, datetime, datetime]:
    """Billing's one access rule as SQL over a purchases row `q`, with its two parameters."""
    return granted_sql(_now())


async def affiliate_row(affiliate_id: int) -> AffiliateProfileRow | None:
    row = await AffiliateProfile.select().where(AffiliateProfile.id == affiliate_id).first()
    return profile_row(row) if row is not None else None


async def access_affiliate_slug(slug: str) -> AffiliateProfileRow:
    # Links get retyped: an exact match first, else the same slug in another case.
    rows = await AffiliateProfile.raw(
        "SELECT * FROM affiliate_profiles WHERE slug = {} OR lower(slug) = lower({}) "
        "ORDER BY slug = {} DESC LIMIT 1",
        slug,
        slug,
        slug,
    )
    row = rows[0] if rows else None
    if row is None:
        raise NotFound(
            "No such affiliate link", code="affiliate_not_found", details={"field": "ref"}
        )
    return profile_row(row)


async def checkout_attribution(user_id: int) -> CheckoutReferral | None:
    """The affiliate a purchase starting now earns for (last click), if any."""
    rows = await Attribution.raw(
        "SELECT a.affiliate, a.source FROM attributions a JOIN affiliate_profiles p "
        "ON p.id = a.affiliate WHERE a.customer = {} AND a.expires_at > now() "
        'AND p."user" <> a.customer',
        user_id,
    )
    if not rows:
        return None
    return CheckoutReferral(rows[0]["affiliate"], rows[0]["source"])


def referral_url(slug: str) -> str:
    return f"{branding(Platform.WEOKTO).base_url}/?ref={slug}"


# Monthly value of a plan's price: quarterly and yearly prices are divided and rounded down
# per subscription (integer cents); one-time payments are not recurring revenue.
_MONTHLY_CENTS = (
    "CASE pl.interval WHEN 'MONTHLY' THEN pl.price_cents WHEN 'QUARTERLY' "
    "THEN pl.price_cents / 3 WHEN 'ANNUALLY' THEN pl.price_cents / 12 ELSE 0 END"
)


async def _counts(affiliate_id: int) -> dict[str, Any]:
    granted, cutoff, now = _granted()
    rows = await Attribution.raw(
        "SELECT (SELECT count(*) FROM tracking_events WHERE affiliate = {}) AS clicks, "
        "(SELECT count(*) FROM attributions WHERE affiliate = {}) AS signups, "
        'count(DISTINCT q."user") AS active_customers, '
        f"COALESCE(sum({_MONTHLY_CENTS}) FILTER (WHERE q.status <> 'TRIAL'), 0) AS mrr_cents "
        "FROM purchase_attributions pa JOIN purchases q ON q.id = pa.purchase "
        f"JOIN plans pl ON pl.id = q.plan WHERE pa.affiliate = {{}} AND {granted}",
        affiliate_id,
        affiliate_id,
        affiliate_id,
        cutoff,
        now,
    )
    return rows[0]


async def compute_stats(profile: AffiliateProfileRow) -> AffiliateStats:
    counts = await _counts(profile.id)
    money = await balances(profile.id)
    return AffiliateStats(
        affiliate_id=profile.id,
        slug=profile.slug,
        referral_url=referral_url(profile.slug),
        clicks=counts["clicks"],
        signups=counts["signups"],
        active_customers=counts["active_customers"],
        mrr_cents=int(counts["mrr_cents"]),
        currency=COMMISSION_CURRENCY,
        locked_cents=money.locked,
        frozen_cents=money.frozen,
        available_cents=money.available,
        paid_cents=money.paid_out,
        debt_cents=money.debt,
        next_unlock_at=money.next_unlock_at,
        computed_at=_now(),
    )


async def stats(profile: AffiliateProfileRow) -> AffiliateStats:
    """The dashboard figures, from the Redis cache when fresh.

    Every change drops the key after its commit and before its `affiliate_update` push, so a
    refetch prompted by the push computes afresh; a computation that began before the drop
    does not store its older result (the pending token it set is gone).
    """
    key = stats_cache_key(profile.id)
    try:
        redis = get_redis()
        cached = await redis.get(key)
        if isinstance(cached, str) and cached and not cached.startswith(_PENDING):
            return msgspec.json.decode(cached, type=AffiliateStats)
        token = f"{_PENDING}{uuid.uuid4().hex}"
        mine = await redis.set(key, token, nx=True, ex=30)
    except Exception:  # Redis down: answer from the database
        log.warning("affiliate stats cache unavailable", affiliate_id=profile.id)
        return await compute_stats(profile)
    value = await compute_stats(profile)
    if mine:
        try:
            await redis.eval(
                _STORE_IF_MINE, 1, key, token, msgspec.json.encode(value).decode(), STATS_TTL_S
            )
        except Exception:
            log.warning("affiliate stats cache store failed", affiliate_id=profile.id)
    return value


def mask_email(email: str) -> str:
    """Affiliates see who bought only roughly: the first two letters and the domain."""
    name, _, domain = email.partition("@")
    return f"{name[:2]}***@{domain}"


_COMMISSIONS = (
    "SELECT c.id, c.purchase, u.email, pr.name AS product_name, c.amount_cents, c.status, "
    "c.from_free_product, c.created_at, CASE WHEN c.main_matured_at IS NULL "
    "AND c.main_locked_cents > 0 THEN c.main_unlock_at WHEN c.ext_matured_at IS NULL "
    "AND c.ext_locked_cents > 0 THEN c.ext_unlock_at END AS unlock_at FROM commissions c "
    'JOIN purchases q ON q.id = c.purchase JOIN users u ON u.id = q."user" '
    "JOIN products pr ON pr.id = q.product WHERE c.affiliate = {} "
)


def commission_read(r: dict[str, Any], masked: bool) -> CommissionRead:
    return CommissionRead(
        id=r["id"],
        purchase_id=r["purchase"],
        product_name=r["product_name"],
        customer_email=mask_email(r["email"]) if masked else r["email"],
        amount_cents=r["amount_cents"],
        status=r["status"],
        from_free_product=r["from_free_product"],
        unlock_at=r["unlock_at"],
        created_at=r["created_at"],
    )


async def list_commissions(
    affiliate_id: int, f: CommissionFilter, masked: bool = True
) -> list[CommissionRead]:
    """Newest first, filtered by status, source and creation time; paged by `before_id`."""
    free = None if f.source is None else f.source == "free_product"
    rows = await Attribution.raw(
        _COMMISSIONS + "AND ({}::text IS NULL OR c.status = {}) "
        "AND ({}::boolean IS NULL OR c.from_free_product = {}) "
        "AND ({}::timestamptz IS NULL OR c.created_at >= {}) "
        "AND ({}::timestamptz IS NULL OR c.created_at < {}) "
        "AND ({}::int IS NULL OR c.id < {}) ORDER BY c.id DESC LIMIT {}",
        affiliate_id,
        f.status,
        f.status,
        free,
        free,
        f.since,
        f.since,
        f.until,
        f.until,
        f.before_id,
        f.before_id,
        f.limit,
    )
    return [commission_read(r, masked) for r in rows]


async def list_payouts(affiliate_id: int) -> list[PayoutRead]:
    rows = await Attribution.raw(
        "SELECT id, amount_cents, method, reference, created_at FROM affiliate_payouts "
        "WHERE affiliate = {} ORDER BY id DESC LIMIT 200",
        affiliate_id,
    )
    return [PayoutRead(**r) for r in rows]


_SUMMARY = (
    "SELECT p.*, u.email, u.display_name, "
    "(SELECT count(*) FROM tracking_events t WHERE t.affiliate = p.id) AS clicks, "
    "(SELECT count(*) FROM attributions a WHERE a.affiliate = p.id) AS customers, "
    "(SELECT count(*) FROM commissions c WHERE c.affiliate = p.id) AS commissions, "
    # Each account's sum in the same query: the owner's list is one query, not two per row.
    "(SELECT json_object_agg(s.account, s.total) FROM (SELECT e.account, sum(e.amount_cents) "
    "AS total FROM ledger_entries e WHERE e.affiliate = p.id GROUP BY e.account) s) AS accounts "
    'FROM affiliate_profiles p JOIN users u ON u.id = p."user" WHERE u.platform = {} '
)


def _summary(r: dict[str, Any]) -> AffiliateSummary:
    accounts = msgspec.json.decode(r["accounts"]) if r["accounts"] else {}
    money = balances_from(account_sums(accounts), None)
    return AffiliateSummary(
        id=r["id"],
        user_id=r["user"],
        email=r["email"],
        display_name=r["display_name"],
        slug=r["slug"],
        risk_level=r["risk_level"],
        risk_notes=r["risk_notes"],
        first_commission_at=r["first_commission_at"],
        created_at=r["created_at"],
        clicks=r["clicks"],
        customers=r["customers"],
        commissions=r["commissions"],
        locked_cents=money.locked,
        available_cents=money.available,
        paid_cents=money.paid_out,
        debt_cents=money.debt,
    )


async def list_affiliates(owner: CurrentUser) -> list[AffiliateSummary]:
    rows = await Attribution.raw(_SUMMARY + "ORDER BY p.id", owner.platform)
    return [_summary(r) for r in rows]


async def _customers(affiliate_id: int) -> list[CustomerRead]:
    """Everyone attributed to the affiliate now, or who bought through them before."""
    granted, cutoff, now = _granted()
    rows = await Attribution.raw(
        "WITH ids AS (SELECT customer AS uid FROM attributions WHERE affiliate = {} UNION "
        'SELECT q."user" FROM purchase_attributions pa JOIN purchases q ON q.id = pa.purchase '
        "WHERE pa.affiliate = {}) SELECT u.id AS user_id, u.email, a.source, "
        "a.updated_at AS attributed_at, a.expires_at, count(q.id) AS purchases, "
        f"COALESCE(bool_or({granted}), false) AS active FROM ids "
        "JOIN users u ON u.id = ids.uid LEFT JOIN attributions a ON a.customer = u.id "
        'AND a.affiliate = {} LEFT JOIN purchases q ON q."user" = u.id AND q.id IN ('
        "SELECT purchase FROM purchase_attributions WHERE affiliate = {}) "
        "GROUP BY u.id, u.email, a.source, a.updated_at, a.expires_at ORDER BY u.id",
        affiliate_id,
        affiliate_id,
        cutoff,
        now,
        affiliate_id,
        affiliate_id,
    )
    return [CustomerRead(**r) for r in rows]


async def affiliate_detail(owner: CurrentUser, affiliate_id: int) -> AffiliateDetail:
    rows = await Attribution.raw(_SUMMARY + "AND p.id = {}", owner.platform, affiliate_id)
    if not rows:
        raise NotFound("No such affiliate", code="affiliate_not_found")
    commissions = await list_commissions(affiliate_id, CommissionFilter(limit=200), masked=False)
    return AffiliateDetail(
        affiliate=_summary(rows[0]),
        commissions=commissions,
        customers=await _customers(affiliate_id),
    )
