"""Formation Structs: availability rules and the locks they give a learner."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

RuleKind = Literal["now", "drip", "date", "after"]
LockReason = Literal["drip", "date", "after_module", "after_lesson"]


class Rule(msgspec.Struct, frozen=True):
    """When a module or lesson opens to a learner (the rule_* columns of its row)."""

    rule: RuleKind = "now"
    rule_days: int = 0
    rule_date: datetime | None = None
    rule_after_module: int | None = None
    rule_after_lesson: int | None = None


class Lock(msgspec.Struct, frozen=True):
    """Why an item is closed, and when it opens when that is known (drip and date)."""

    reason: LockReason
    opens_at: datetime | None = None
    # The module or lesson to finish first (after_module / after_lesson).
    after_id: int | None = None


class LockRead(msgspec.Struct, frozen=True):
    """A lock as the learner reads it: the reason, its date, and a sentence in their language."""

    reason: LockReason
    opens_at: datetime | None
    after_id: int | None
    message: str


FormationState = Literal["draft", "published", "archived"]


class LessonItem(msgspec.Struct):
    """A lesson in the learner's outline: its tick, and its lock when it is closed."""

    id: int
    title: str
    position: int
    duration_s: int
    has_video: bool
    completed: bool
    lock: LockRead | None


class ModuleItem(msgspec.Struct):
    id: int
    title: str
    description: str
    position: int
    lock: LockRead | None
    lessons: list[LessonItem]


class FormationRead(msgspec.Struct):
    """A formation as its learner sees it: the outline with ticks and locks, and the progress."""

    id: int
    product_id: int
    title: str
    description: str
    state: FormationState
    lessons_total: int
    lessons_done: int
    percent: int
    # The first open lesson not yet completed: what "continue" opens (None when all are done).
    next_lesson_id: int | None
    modules: list[ModuleItem]


class PositionSave(msgspec.Struct, forbid_unknown_fields=True):
    """Where playback stands, in whole seconds (saved every few seconds while watching)."""

    position_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)]


class ProgressRead(msgspec.Struct):
    """One lesson's progress for its learner, and where the formation stands after it."""

    formation_id: int
    lesson_id: int
    position_s: int
    furthest_s: int
    completed: bool
    formation_percent: int
    # Set when this save completed the lesson's module (what unlocks "after module" items).
    module_completed: bool = False
