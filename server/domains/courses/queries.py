"""Formation reads and access_* helpers: who may open a formation, and its outline for them.

A formation belongs to a product; a learner may open it when the one paid-access rule
(server/domains/paid_access.py, over their purchases of that product) grants access, the same
rule that opens the product's paid channels. Owners, admins and product managers preview every
formation of their platform, drafts included, with nothing locked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from db.courses.tables import Formation
from server.domains.auth.schemas import CurrentUser, Role
from server.domains.billing.queries import access_rows
from server.domains.courses.availability import Learner, describe, lesson_lock, lock_for
from server.domains.courses.schemas import (
    FormationRead,
    FormationState,
    LessonItem,
    Lock,
    LockRead,
    ModuleItem,
    Rule,
)
from server.domains.paid_access import decide_access
from server.errors import Forbidden, NotFound

STAFF = frozenset({Role.OWNER, Role.ADMIN, Role.PRODUCT_MANAGER})


class FormationRow(msgspec.Struct, frozen=True):
    id: int
    platform: str
    product: int
    title: str
    description: str
    state: FormationState


class FormationAccess(msgspec.Struct, frozen=True):
    """A formation the caller may open, and what its availability rules read of them."""

    formation: FormationRow
    learner: Learner


def is_staff(user: CurrentUser) -> bool:
    return user.role in STAFF


async def access_formation(user: CurrentUser, formation_id: int) -> FormationAccess:
    """The formation and the caller's standing; 404 for another platform's or an unpublished
    one (learners), 403 without access to its product (never bought, refunded, lapsed)."""
    rows = await Formation.raw(
        "SELECT id, platform, product, title, description, state FROM formations "
        "WHERE id = {} AND platform = {}",
        formation_id,
        user.platform,
    )
    formation = msgspec.convert(rows[0], FormationRow) if rows else None
    if formation is None or (formation.state != "published" and not is_staff(user)):
        raise NotFound("No such formation", code="formation_not_found")
    if is_staff(user):
        return FormationAccess(formation, Learner(access_started=None, staff=True))
    state = decide_access(await access_rows(user.id, product_id=formation.product))
    if not state.has_access:
        raise Forbidden(
            "This formation comes with a product you do not have",
            code="formation_access_required",
            details={"product_id": formation.product},
        )
    return FormationAccess(formation, await _learner(user.id, formation))


async def _learner(user_id: int, formation: FormationRow) -> Learner:
    # Drip counts from the learner's first purchase of the product: a renewal or a later
    # repurchase does not lock again what they have already been given.
    rows = await Formation.raw(
        "SELECT (SELECT min(created_at) FROM purchases "
        'WHERE "user" = {} AND product = {}) AS started, '
        "(SELECT coalesce(array_agg(p.lesson), ARRAY[]::int[]) FROM lesson_progress p "
        "JOIN lessons l ON l.id = p.lesson JOIN course_modules m ON m.id = l.module "
        'WHERE p."user" = {} AND m.formation = {} AND p.completed_at IS NOT NULL) AS lessons, '
        "(SELECT coalesce(array_agg(c.module), ARRAY[]::int[]) FROM module_completions c "
        'JOIN course_modules m ON m.id = c.module WHERE c."user" = {} AND m.formation = {}) '
        "AS modules",
        user_id,
        formation.product,
        user_id,
        formation.id,
        user_id,
        formation.id,
    )
    row = rows[0]
    return Learner(
        access_started=row["started"],
        completed_lessons=frozenset(row["lessons"]),
        completed_modules=frozenset(row["modules"]),
    )


_RULE_COLUMNS = "rule, rule_days, rule_date, rule_after_module, rule_after_lesson"


def _rule(row: dict[str, Any], prefix: str = "") -> Rule:
    return Rule(
        rule=row[prefix + "rule"],
        rule_days=row[prefix + "rule_days"],
        rule_date=row[prefix + "rule_date"],
        rule_after_module=row[prefix + "rule_after_module"],
        rule_after_lesson=row[prefix + "rule_after_lesson"],
    )


async def _outline_rows(fa: FormationAccess) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    visible = "('published', 'draft')" if fa.learner.staff else "('published')"
    modules = await Formation.raw(
        f"SELECT id, title, description, position, {_RULE_COLUMNS} FROM course_modules "
        f"WHERE formation = {{}} AND state IN {visible} ORDER BY position, id",
        fa.formation.id,
    )
    lessons = await Formation.raw(
        f"SELECT l.id, l.module, l.title, l.position, l.duration_s, l.video IS NOT NULL "
        f"AS has_video, {', '.join('l.' + c for c in _RULE_COLUMNS.split(', '))} FROM lessons l "
        f"JOIN course_modules m ON m.id = l.module WHERE m.formation = {{}} "
        f"AND l.state IN {visible} ORDER BY l.position, l.id",
        fa.formation.id,
    )
    return modules, lessons


def _lock_read(
    lock: Lock | None, now: datetime, titles: dict[tuple[str, int], str]
) -> LockRead | None:
    if lock is None:
        return None
    kind = "module" if lock.reason == "after_module" else "lesson"
    title = titles.get((kind, lock.after_id or 0), "")
    return describe(lock, now, title)


async def formation_read(fa: FormationAccess, now: datetime | None = None) -> FormationRead:
    """The outline in order with ticks and locks, the progress and the lesson to continue."""
    now = now or datetime.now(UTC)
    modules, lessons = await _outline_rows(fa)
    titles = {("module", m["id"]): m["title"] for m in modules}
    titles.update({("lesson", x["id"]): x["title"] for x in lessons})
    done = fa.learner.completed_lessons
    items: list[ModuleItem] = []
    next_id: int | None = None
    for m in modules:
        module_rule = _rule(m)
        module_lock = lock_for(module_rule, fa.learner, now)
        entries = []
        for x in (x for x in lessons if x["module"] == m["id"]):
            lock = lesson_lock(module_rule, _rule(x), fa.learner, now)
            if lock is None and next_id is None and x["id"] not in done:
                next_id = x["id"]
            entries.append(
                LessonItem(
                    id=x["id"],
                    title=x["title"],
                    position=x["position"],
                    duration_s=x["duration_s"],
                    has_video=x["has_video"],
                    completed=x["id"] in done,
                    lock=_lock_read(lock, now, titles),
                )
            )
        items.append(
            ModuleItem(
                id=m["id"],
                title=m["title"],
                description=m["description"],
                position=m["position"],
                lock=_lock_read(module_lock, now, titles),
                lessons=entries,
            )
        )
    total = len(lessons)
    finished = sum(1 for x in lessons if x["id"] in done)
    f = fa.formation
    return FormationRead(
        id=f.id,
        product_id=f.product,
        title=f.title,
        description=f.description,
        state=f.state,
        lessons_total=total,
        lessons_done=finished,
        percent=(finished * 100 // total) if total else 0,
        next_lesson_id=next_id,
        modules=items,
    )


async def list_formations(user: CurrentUser) -> list[FormationRead]:
    """The formations the caller may open, in the owner's order (locked ones are left out)."""
    rows = await Formation.raw(
        "SELECT id FROM formations WHERE platform = {} AND state = 'published' "
        "ORDER BY position, id",
        user.platform,
    )
    result = []
    for r in rows:
        try:
            fa = await access_formation(user, r["id"])
        except (Forbidden, NotFound):
            continue
        result.append(await formation_read(fa))
    return result


class LessonAccess(msgspec.Struct, frozen=True):
    """An open lesson of a formation the caller may open."""

    access: FormationAccess
    lesson_id: int
    module_id: int
    duration_s: int


async def access_lesson(
    user: CurrentUser, lesson_id: int, now: datetime | None = None
) -> LessonAccess:
    """The lesson when the caller may open it now: 404 unknown or unpublished, 403 without the
    product, 403 `lesson_locked` (with the lock) while its rules keep it closed."""
    now = now or datetime.now(UTC)
    rows = await Formation.raw(
        f"SELECT l.id, l.module, l.duration_s, l.state, m.state AS module_state, m.formation, "
        f"{', '.join('l.' + c for c in _RULE_COLUMNS.split(', '))}, "
        f"{', '.join(f'm.{c} AS m_{c}' for c in _RULE_COLUMNS.split(', '))} FROM lessons l "
        f"JOIN course_modules m ON m.id = l.module WHERE l.id = {{}}",
        lesson_id,
    )
    if not rows:
        raise NotFound("No such lesson", code="lesson_not_found")
    row = rows[0]
    fa = await access_formation(user, row["formation"])
    published = row["state"] == "published" and row["module_state"] == "published"
    if not (published or fa.learner.staff):
        raise NotFound("No such lesson", code="lesson_not_found")
    lock = lesson_lock(_rule(row, "m_"), _rule(row), fa.learner, now)
    if lock is not None:
        raise Forbidden(
            "This lesson is not open yet",
            code="lesson_locked",
            details={"lock": msgspec.to_builtins(describe(lock, now))},
        )
    return LessonAccess(fa, row["id"], row["module"], row["duration_s"])
