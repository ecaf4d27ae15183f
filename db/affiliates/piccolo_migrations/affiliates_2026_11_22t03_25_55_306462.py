from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import BigInt
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table


class AffiliateProfile(Table, tablename="affiliate_profiles", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-11-22T03:25:55:306462"
VERSION = "1.38.0"
DESCRIPTION = "cached affiliate account balances"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="affiliates", description=DESCRIPTION
    )

    manager.add_table(
        class_name="LedgerBalance",
        tablename="ledger_balances",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="LedgerBalance",
        tablename="ledger_balances",
        column_name="affiliate",
        db_column_name="affiliate",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": AffiliateProfile,
            "on_delete": OnDelete.restrict,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
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

    manager.add_column(
        table_class_name="LedgerBalance",
        tablename="ledger_balances",
        column_name="account",
        db_column_name="account",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 24,
            "default": "",
            "null": False,
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

    manager.add_column(
        table_class_name="LedgerBalance",
        tablename="ledger_balances",
        column_name="balance_cents",
        db_column_name="balance_cents",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
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

    manager.add_constraint(
        table_class_name="LedgerBalance",
        tablename="ledger_balances",
        constraint_name="unique_ledger_balance_account",
        constraint_class=Unique,
        params={"columns": ["affiliate", "account"], "nulls_distinct": True},
        schema=None,
    )

    return manager
