"""Purchases already PAST_DUE get a grace start: their last change (the best time known)."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T02:56:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "past_due_since for purchases already past due"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl("UPDATE purchases SET past_due_since = updated_at "
                         "WHERE status = 'PAST_DUE' AND past_due_since IS NULL")

    manager.add_raw(run)
    return manager
