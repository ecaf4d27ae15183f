"""The one paid-access rule: which purchase statuses grant access, and until when.

A leaf beside the domains (it imports nothing of ours), so that billing, which applies it, and
tracking, which counts an affiliate's active customers with it, read the same rule while neither
imports the other for it. The rule exists twice, in Python (one row at a time) and in SQL (set-based sweeps and counts): keep
`purchase_access` and `granted_sql` in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import msgspec

GRANTING = ("TRIAL", "ACTIVE", "PAST_DUE")
# A failed renewal keeps access this long after the first failure, while Stripe retries.
GRACE_DAYS = 7
GRACE = timedelta(days=GRACE_DAYS)


class PurchaseTerms(msgspec.Struct, frozen=True):
    """The columns of a purchase that decide access."""

    status: str
    current_period_end: datetime | None = None
    past_due_since: datetime | None = None


class AccessState(msgspec.Struct, frozen=True):
    has_access: bool
    # The deciding purchase's status, "NONE" when nothing was bought.
    status: str
    # When access ends unless Stripe says otherwise (renewal, payment); None: no end (one-time
    # purchases) or no access at all.
    until: datetime | None


NO_ACCESS = AccessState(has_access=False, status="NONE", until=None)


def grants_access(status: str) -> bool:
    """Whether the status can grant access at all (time bounds: see purchase_access)."""
    return status in GRANTING or status == "CANCELLED"


def purchase_access(p: PurchaseTerms, now: datetime) -> AccessState:
    """The access one purchase gives at `now`: the one rule, also in `granted_sql`."""
    status, end = p.status, p.current_period_end
    if status in ("TRIAL", "ACTIVE"):
        return AccessState(True, status, end)
    if status == "PAST_DUE":
        until = (p.past_due_since or now) + GRACE
        return AccessState(until > now, status, until)
    if status == "CANCELLED":
        return AccessState(end is None or end > now, status, end)
    return AccessState(False, status, None)


def decide_access(rows: Iterable[PurchaseTerms], now: datetime | None = None) -> AccessState:
    """Over all of a user's purchases of one product or guild (newest first): the granting one
    that lasts longest wins; without one, the newest purchase says why there is no access."""
    now = now or datetime.now(UTC)
    states = [purchase_access(p, now) for p in rows]
    granting = [s for s in states if s.has_access]
    if granting:
        return max(granting, key=lambda s: (s.until is None, s.until or now))
    return states[0] if states else NO_ACCESS


# purchase_access as SQL over a purchases row `q`, with Piccolo `{}` placeholders for the grace
# cutoff and now, in that order.
GRANTED_SQL = (
    "(q.status IN ('TRIAL', 'ACTIVE') OR (q.status = 'PAST_DUE' AND (q.past_due_since IS NULL "
    "OR q.past_due_since > {})) OR (q.status = 'CANCELLED' AND (q.current_period_end IS "
    "NULL OR q.current_period_end > {})))"
)


def granted_sql(now: datetime) -> tuple[str, datetime, datetime]:
    """The rule as SQL over a purchases row `q`, and its two parameters (cutoff, now)."""
    return GRANTED_SQL, now - GRACE, now
