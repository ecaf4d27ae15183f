"""Catalog integrity PostgreSQL can enforce: money in positive cents, known intervals, bounds."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T01:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalog check constraints"

CHECKS = {
    "plans_price_positive": ("plans", "price_cents > 0"),
    "plans_interval_known": ("plans", "interval IN ('MONTHLY', 'QUARTERLY', 'ANNUALLY', "
                                      "'ONE_TIME', 'LIFETIME')"),
    "plans_trial_bounds": ("plans", "trial_days BETWEEN 0 AND 365"),
    "plans_commission_bounds": ("plans", "commission_percent BETWEEN 0 AND 100"),
    "plans_currency_format": ("plans", "currency ~ '^[a-z]{3}$'"),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        for name, (table, check) in CHECKS.items():
            await DB.run_ddl(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")

    async def back() -> None:
        from db.piccolo_conf import DB

        for name, (table, _) in CHECKS.items():
            await DB.run_ddl(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
