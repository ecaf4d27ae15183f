"""Affiliate live updates: the `affiliate_update` event and the stats-cache invalidation."""

from __future__ import annotations

from typing import Literal

import msgspec
import structlog

from core.redis import get_redis
from db.uow import on_commit
from realtime.emitter import queue
from realtime.rooms import user_room

log = structlog.get_logger(__name__)


class AffiliateUpdate(msgspec.Struct):
    """Something changed the affiliate's numbers: the dashboard refetches its stats."""

    affiliate_id: int
    # commission, maturation, clawback, freeze, release, payout, withdrawal, risk, and the
    # tracking domain's own (clicks, attributions)
    reason: str
    type: Literal["affiliate_update"] = "affiliate_update"


def stats_cache_key(affiliate_id: int) -> str:
    return f"affiliate:stats:{affiliate_id}"


def notify_affiliate_update(affiliate_id: int, reason: str) -> AffiliateUpdate:
    return AffiliateUpdate(affiliate_id=affiliate_id, reason=reason)


async def _drop_stats(affiliate_id: int) -> None:
    try:
        await get_redis().delete(stats_cache_key(affiliate_id))
    except Exception:  # a stale cache must never undo a committed write
        log.exception("affiliate stats cache invalidation failed")


async def do_touch_affiliate(affiliate_id: int, user_id: int, reason: str) -> None:
    """Tell the affiliate's browsers their numbers moved; call inside atomic().

    The stats cache is dropped after the commit (earlier, a concurrent reader could cache the
    old numbers again) and before the event is published (later, the refetch it triggers
    could read the old cache).
    """
    queue(user_room(user_id), "affiliate_update", notify_affiliate_update(affiliate_id, reason))
    on_commit(stats_cache_key(affiliate_id), lambda: _drop_stats(affiliate_id))
