"""Integrity rules Piccolo cannot declare: each message and read marker has exactly one stream."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T00:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "chat check constraints"

CHECKS = (
    "ALTER TABLE messages ADD CONSTRAINT messages_one_stream "
    "CHECK ((channel IS NULL) <> (conversation IS NULL))",
    "ALTER TABLE read_markers ADD CONSTRAINT read_markers_one_stream "
    "CHECK ((channel IS NULL) <> (conversation IS NULL))",
    "ALTER TABLE dm_conversations ADD CONSTRAINT dm_pair_ordered CHECK (user_low < user_high)",
    "ALTER TABLE messages ADD CONSTRAINT messages_seq_positive CHECK (seq > 0)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chat", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        for ddl in CHECKS:
            await DB.run_ddl(ddl)

    async def back() -> None:
        from db.piccolo_conf import DB

        for name, table in (("messages_one_stream", "messages"),
                            ("read_markers_one_stream", "read_markers"),
                            ("dm_pair_ordered", "dm_conversations"),
                            ("messages_seq_positive", "messages")):
            await DB.run_ddl(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
