"""The entries' insert trigger keeps cached balances; PostgreSQL refuses a wrong sign on them."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T03:26:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "balance signs checked on cached balances kept by the entries trigger"

CHECK = ("ALTER TABLE ledger_balances ADD CONSTRAINT ledger_balance_sign CHECK ("
         "(account = 'debt' AND balance_cents <= 0) OR (account <> 'debt' AND balance_cents >= 0))")

BACKFILL = ("INSERT INTO ledger_balances (affiliate, account, balance_cents) "
            "SELECT affiliate, account, sum(amount_cents) FROM ledger_entries "
            "WHERE affiliate IS NOT NULL GROUP BY affiliate, account")

# One pass per INSERT statement (not per row): every transaction it touched must sum to zero
# once the statement is done (so a transaction's entries are written by one statement), and
# the statement's net amount per affiliate account is added to that account's cached balance,
# whose CHECK refuses available (or any account but debt) below zero and debt above zero.
# Writers lock the affiliate's profile row first, so two statements never race on one balance.
FUNCTION = """CREATE OR REPLACE FUNCTION ledger_entries_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
  SELECT e.transaction AS tx, sum(e.amount_cents) AS total INTO bad
    FROM ledger_entries e
   WHERE e.transaction IN (SELECT DISTINCT n.transaction FROM new_entries n)
   GROUP BY e.transaction HAVING sum(e.amount_cents) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', bad.tx, bad.total
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
  END IF;
  -- A CHECK is tested on the row an INSERT proposes, before ON CONFLICT: so create missing
  -- accounts at zero, then add the deltas with an UPDATE.
  INSERT INTO ledger_balances (affiliate, account, balance_cents)
  SELECT DISTINCT n.affiliate, n.account, 0 FROM new_entries n
   WHERE n.affiliate IS NOT NULL ORDER BY 1, 2
  ON CONFLICT (affiliate, account) DO NOTHING;
  UPDATE ledger_balances b SET balance_cents = b.balance_cents + d.delta
    FROM (SELECT n.affiliate, n.account, sum(n.amount_cents) AS delta FROM new_entries n
           WHERE n.affiliate IS NOT NULL GROUP BY n.affiliate, n.account) d
   WHERE b.affiliate = d.affiliate AND b.account = d.account;
  RETURN NULL;
END $$"""

OLD_FUNCTION = """CREATE OR REPLACE FUNCTION ledger_entries_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
  SELECT e.transaction AS tx, sum(e.amount_cents) AS total INTO bad
    FROM ledger_entries e
   WHERE e.transaction IN (SELECT DISTINCT n.transaction FROM new_entries n)
   GROUP BY e.transaction HAVING sum(e.amount_cents) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', bad.tx, bad.total
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
  END IF;
  RETURN NULL;
END $$"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="affiliates", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl(BACKFILL)
        await DB.run_ddl(CHECK)
        await DB.run_ddl(FUNCTION)

    async def back() -> None:
        from db.piccolo_conf import DB

        await DB.run_ddl(OLD_FUNCTION)
        await DB.run_ddl("ALTER TABLE ledger_balances DROP CONSTRAINT IF EXISTS ledger_balance_sign")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
