"""Formation writers: a learner's playback position, and lesson and module completion.

A video lesson completes by itself once 90% of it has been reached; completing every published
lesson of a module records the module's completion once (what "after module" rules read).
"""

from __future__ import annotations

from datetime import UTC, datetime

from db.courses.tables import LessonProgress
from db.uow import atomic
from realtime import emitter
from server.domains.auth.schemas import CurrentUser
from server.domains.courses import events
from server.domains.courses.queries import LessonAccess, access_lesson
from server.domains.courses.schemas import ProgressRead

# The share of a video that counts as watched (the learner may skip the closing credits).
AUTO_COMPLETE = 0.9


def reached_the_end(furthest_s: int, duration_s: int) -> bool:
    return duration_s > 0 and furthest_s >= duration_s * AUTO_COMPLETE


async def check_save_position(user: CurrentUser, lesson_id: int, position_s: int) -> ProgressRead:
    la = await access_lesson(user, lesson_id)
    # A position past the end is the player's rounding, not more watching.
    position = min(position_s, la.duration_s) if la.duration_s else position_s
    return await do_save_progress(user, la, position, complete=False)


async def check_complete(user: CurrentUser, lesson_id: int) -> ProgressRead:
    la = await access_lesson(user, lesson_id)
    return await do_save_progress(user, la, None, complete=True)


# One statement: the row is created or moved forward; furthest never goes back, and once
# completed a lesson stays completed (rewatching the start does not undo it).
_UPSERT = (
    'INSERT INTO lesson_progress ("user", lesson, position_s, furthest_s, completed_at, '
    'updated_at) VALUES ({}, {}, {}, {}, {}, now()) ON CONFLICT ("user", lesson) DO UPDATE SET '
    "position_s = coalesce({}, lesson_progress.position_s), "
    "furthest_s = greatest(lesson_progress.furthest_s, EXCLUDED.furthest_s), "
    "completed_at = coalesce(lesson_progress.completed_at, EXCLUDED.completed_at), "
    "updated_at = now() RETURNING position_s, furthest_s, completed_at"
)


async def do_save_progress(
    user: CurrentUser, la: LessonAccess, position: int | None, *, complete: bool
) -> ProgressRead:
    """Save the position (None: keep it) and complete the lesson when asked or at 90%."""
    reached = position or 0
    done = complete or reached_the_end(reached, la.duration_s)
    async with atomic():
        row = (
            await LessonProgress.raw(
                _UPSERT,
                user.id,
                la.lesson_id,
                reached,
                reached,
                datetime.now(UTC) if done else None,
                position,
            )
        )[0]
        module_done = await _record_module(user.id, la.module_id) if row["completed_at"] else False
        progress = ProgressRead(
            formation_id=la.access.formation.id,
            lesson_id=la.lesson_id,
            position_s=row["position_s"],
            furthest_s=row["furthest_s"],
            completed=row["completed_at"] is not None,
            formation_percent=await _percent(user.id, la.access.formation.id),
            module_completed=module_done,
        )
        emitter.queue_all(events.notify_progress(user.id, progress))
    return progress


async def _record_module(user_id: int, module_id: int) -> bool:
    """Record the module's completion when every published lesson of it is completed; True
    only the first time (the insert that made it)."""
    rows = await LessonProgress.raw(
        'INSERT INTO module_completions ("user", module, completed_at) SELECT {}, {}, now() '
        "WHERE NOT EXISTS (SELECT 1 FROM lessons l WHERE l.module = {} AND l.state = 'published' "
        'AND NOT EXISTS (SELECT 1 FROM lesson_progress p WHERE p.lesson = l.id AND p."user" = {} '
        'AND p.completed_at IS NOT NULL)) ON CONFLICT ("user", module) DO NOTHING RETURNING id',
        user_id,
        module_id,
        module_id,
        user_id,
    )
    return bool(rows)


async def _percent(user_id: int, formation_id: int) -> int:
    rows = await LessonProgress.raw(
        "SELECT count(*) AS total, count(p.completed_at) AS done FROM lessons l "
        "JOIN course_modules m ON m.id = l.module LEFT JOIN lesson_progress p "
        'ON p.lesson = l.id AND p."user" = {} WHERE m.formation = {} '
        "AND l.state = 'published' AND m.state = 'published'",
        user_id,
        formation_id,
    )
    total, done = rows[0]["total"], rows[0]["done"]
    return done * 100 // total if total else 0
