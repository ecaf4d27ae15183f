"""At most one pending refund request per purchase, enforced by the database."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T01:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one pending refund request per purchase"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl("CREATE UNIQUE INDEX refund_one_pending ON refund_requests (purchase) "
                         "WHERE status = 'pending'")

    async def back() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl("DROP INDEX IF EXISTS refund_one_pending")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
