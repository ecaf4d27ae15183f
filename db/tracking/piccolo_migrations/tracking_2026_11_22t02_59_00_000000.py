"""Tracking integrity and the per-affiliate click index PostgreSQL needs beyond Piccolo's columns."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T02:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tracking checks and click index"

DDL = (
    "CREATE INDEX tracking_events_affiliate_time_idx ON tracking_events (affiliate, created_at)",
    "ALTER TABLE attributions ADD CONSTRAINT attributions_source_known "
    "CHECK (source IN ('link', 'free_product'))",
    "ALTER TABLE attributions ADD CONSTRAINT attributions_expire_after_click "
    "CHECK (expires_at > clicked_at)",
    "ALTER TABLE purchase_attributions ADD CONSTRAINT purchase_attributions_source_known "
    "CHECK (source IN ('link', 'free_product'))",
)
UNDO = (
    "DROP INDEX IF EXISTS tracking_events_affiliate_time_idx",
    "ALTER TABLE attributions DROP CONSTRAINT IF EXISTS attributions_source_known",
    "ALTER TABLE attributions DROP CONSTRAINT IF EXISTS attributions_expire_after_click",
    "ALTER TABLE purchase_attributions DROP CONSTRAINT IF EXISTS purchase_attributions_source_known",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tracking", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        for ddl in DDL:
            await DB.run_ddl(ddl)

    async def back() -> None:
        from db.piccolo_conf import DB

        for ddl in UNDO:
            await DB.run_ddl(ddl)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
