from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T02:57:57:930072"
VERSION = "1.38.0"
DESCRIPTION = "commission paid_at"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="affiliates", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Commission",
        tablename="commissions",
        column_name="paid_at",
        db_column_name="paid_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
