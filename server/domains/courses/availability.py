"""The availability rules of modules and lessons: now, drip, fixed date, after another item.

Pure functions of the rule, the learner's standing and the clock, so the drip and completion
rules are tested with the clock moved and the same code decides the list, the lesson fetch and
the playback URLs.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import msgspec

from server.domains.courses.schemas import Lock, LockRead, Rule
from server.i18n import gettext as _
from server.i18n import ngettext


class Learner(msgspec.Struct, frozen=True):
    """What the rules read of one learner in one formation."""

    # When their access to the formation's product started (drip counts from it); None for
    # staff previewing, who see everything open.
    access_started: datetime | None
    completed_lessons: frozenset[int] = frozenset()
    completed_modules: frozenset[int] = frozenset()
    staff: bool = False


def lock_for(rule: Rule, learner: Learner, now: datetime) -> Lock | None:
    """The lock this rule puts on an item for the learner at `now`, or None when it is open."""
    if learner.staff or rule.rule == "now":
        return None
    if rule.rule == "drip":
        start = learner.access_started or now
        opens = start + timedelta(days=rule.rule_days)
        return Lock("drip", opens_at=opens) if opens > now else None
    if rule.rule == "date":
        if rule.rule_date is not None and rule.rule_date > now:
            return Lock("date", opens_at=rule.rule_date)
        return None
    return _after_lock(rule, learner)


def _after_lock(rule: Rule, learner: Learner) -> Lock | None:
    # A rule pointing at a deleted item has its id cleared by the authoring actions: open.
    module, lesson = rule.rule_after_module, rule.rule_after_lesson
    if module is not None and module not in learner.completed_modules:
        return Lock("after_module", after_id=module)
    if lesson is not None and lesson not in learner.completed_lessons:
        return Lock("after_lesson", after_id=lesson)
    return None


def lesson_lock(
    module_rule: Rule, lesson_rule: Rule, learner: Learner, now: datetime
) -> Lock | None:
    """A lesson is closed while its module is; the module's lock is the one worth telling."""
    return lock_for(module_rule, learner, now) or lock_for(lesson_rule, learner, now)


def days_left(opens_at: datetime, now: datetime) -> int:
    """Whole days until opening, rounded up: 'opens in 1 day' until the very moment it opens."""
    return max(1, math.ceil((opens_at - now).total_seconds() / 86_400))


def describe(lock: Lock, now: datetime, after_title: str = "") -> LockRead:
    """The lock in the reader's language: "Opens in 3 days", "Finish Module 1 first"."""
    if lock.reason in ("drip", "date") and lock.opens_at is not None:
        n = days_left(lock.opens_at, now)
        message = ngettext("Opens in %(n)d day", "Opens in %(n)d days", n) % {"n": n}
    elif after_title:
        message = _("Finish %(title)s first") % {"title": after_title}
    else:
        message = _("Finish the previous step first")
    return LockRead(lock.reason, lock.opens_at, lock.after_id, message)
