"""The availability rules with the clock moved: drip, fixed date, after a module or lesson."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domains.courses.availability import Learner, describe, lesson_lock, lock_for
from server.domains.courses.schemas import Lock, Rule
from server.i18n import use_locale

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def learner(**kw: object) -> Learner:
    return Learner(access_started=START, **kw)  # type: ignore[arg-type]


def test_now_is_always_open() -> None:
    assert lock_for(Rule(), learner(), START) is None


@pytest.mark.parametrize(
    ("elapsed", "locked"),
    [
        (timedelta(0), True),
        (timedelta(days=2, hours=23, minutes=59), True),
        (timedelta(days=3), False),
        (timedelta(days=40), False),
    ],
)
def test_drip_counts_from_the_start_of_access(elapsed: timedelta, locked: bool) -> None:
    lock = lock_for(Rule("drip", rule_days=3), learner(), START + elapsed)
    assert (lock is not None) is locked
    if lock is not None:
        assert lock == Lock("drip", opens_at=START + timedelta(days=3))


def test_drip_opens_later_for_a_later_buyer() -> None:
    rule = Rule("drip", rule_days=7)
    late = Learner(access_started=START + timedelta(days=5))
    moment = START + timedelta(days=8)
    assert lock_for(rule, learner(), moment) is None
    assert lock_for(rule, late, moment) == Lock("drip", opens_at=START + timedelta(days=12))


def test_fixed_date_opens_at_that_moment() -> None:
    opens = START + timedelta(days=10)
    rule = Rule("date", rule_date=opens)
    assert lock_for(rule, learner(), opens - timedelta(seconds=1)) == Lock("date", opens_at=opens)
    assert lock_for(rule, learner(), opens) is None


def test_after_module_and_after_lesson_need_the_completion() -> None:
    after_module = Rule("after", rule_after_module=11)
    after_lesson = Rule("after", rule_after_lesson=21)
    assert lock_for(after_module, learner(), START) == Lock("after_module", after_id=11)
    assert lock_for(after_module, learner(completed_modules=frozenset({11})), START) is None
    assert lock_for(after_lesson, learner(), START) == Lock("after_lesson", after_id=21)
    assert lock_for(after_lesson, learner(completed_lessons=frozenset({21})), START) is None


def test_staff_preview_sees_everything_open() -> None:
    staff = Learner(access_started=None, staff=True)
    for rule in (
        Rule("drip", rule_days=30),
        Rule("date", rule_date=START + timedelta(days=99)),
        Rule("after", rule_after_module=1),
    ):
        assert lock_for(rule, staff, START) is None


def test_a_lesson_is_closed_while_its_module_is() -> None:
    module = Rule("drip", rule_days=3)
    lesson = Rule("after", rule_after_lesson=5)
    assert lesson_lock(module, lesson, learner(), START) == Lock(
        "drip", opens_at=START + timedelta(days=3)
    )
    later = START + timedelta(days=4)
    assert lesson_lock(module, lesson, learner(), later) == Lock("after_lesson", after_id=5)
    done = learner(completed_lessons=frozenset({5}))
    assert lesson_lock(module, lesson, done, later) is None


def test_the_lock_says_why_in_french_and_english() -> None:
    lock = Lock("drip", opens_at=START + timedelta(days=3))
    with use_locale("fr"):
        assert describe(lock, START).message == "Disponible dans 3 jours"
        assert describe(lock, START + timedelta(days=2, hours=1)).message == (
            "Disponible dans 1 jour"
        )
        after = describe(Lock("after_module", after_id=1), START, "Module 1")
        assert after.message == "Terminez d'abord Module 1"
    with use_locale("en"):
        assert describe(lock, START).message == "Opens in 3 days"
        assert describe(Lock("after_module", after_id=1), START, "Module 1").message == (
            "Finish Module 1 first"
        )
