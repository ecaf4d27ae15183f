"""The ledger's account CHECK lists only the accounts the code posts to."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T06:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger entries: drop the unused platform_payouts account from the account CHECK"

# A payout moves money between two affiliate accounts (available -> paid_out), so no entry
# ever names a platform payout account; allowing one would let a wrong posting through.
# Adding a CHECK reads the rows, it does not update them, so the append-only triggers allow it.
NEW = ("ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entry_account CHECK (account IN "
       "('locked', 'frozen', 'available', 'paid_out', 'debt', 'platform_commissions'))")
OLD = ("ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entry_account CHECK (account IN "
       "('locked', 'frozen', 'available', 'paid_out', 'debt', 'platform_commissions', "
       "'platform_payouts'))")
DROP = "ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entry_account"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="affiliates", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl(DROP)
        await DB.run_ddl(NEW)

    async def back() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl(DROP)
        await DB.run_ddl(OLD)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
