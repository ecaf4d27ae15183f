"""Integrity rules Piccolo cannot declare: known states and rules, non-negative progress."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "courses check constraints"

CHECKS = (
    ("formations", "formations_state", "state IN ('draft', 'published', 'archived')"),
    ("course_modules", "course_modules_state", "state IN ('draft', 'published', 'archived')"),
    ("lessons", "lessons_state", "state IN ('draft', 'published', 'archived')"),
    ("course_modules", "course_modules_rule", "rule IN ('now', 'drip', 'date', 'after')"),
    ("lessons", "lessons_rule", "rule IN ('now', 'drip', 'date', 'after')"),
    ("course_modules", "course_modules_rule_days", "rule_days >= 0"),
    ("lessons", "lessons_rule_days", "rule_days >= 0"),
    ("lesson_progress", "lesson_progress_positive", "position_s >= 0 AND furthest_s >= 0"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="courses", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        for table, name, check in CHECKS:
            await DB.run_ddl(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")

    async def back() -> None:
        from db.piccolo_conf import DB

        for table, name, _ in CHECKS:
            await DB.run_ddl(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
