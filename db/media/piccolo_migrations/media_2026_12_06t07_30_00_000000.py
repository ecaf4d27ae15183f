"""Integrity rules Piccolo cannot declare: known kinds and states, a bounded progress."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "media check constraints"

CHECKS = (
    ("media_assets_kind", "kind IN ('video', 'attachment', 'cover')"),
    (
        "media_assets_status",
        "status IN ('uploading', 'uploaded', 'processing', 'ready', 'failed')",
    ),
    ("media_assets_progress", "progress BETWEEN 0 AND 100"),
    ("media_assets_offset", "upload_offset >= 0 AND size_bytes >= 0"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="media", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        for name, check in CHECKS:
            await DB.run_ddl(f"ALTER TABLE media_assets ADD CONSTRAINT {name} CHECK ({check})")

    async def back() -> None:
        from db.piccolo_conf import DB

        for name, _ in CHECKS:
            await DB.run_ddl(f"ALTER TABLE media_assets DROP CONSTRAINT IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
