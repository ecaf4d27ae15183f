"""Ledger integrity in the database: append-only, balanced transactions, no negative balances."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T02:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger triggers (append-only, zero-sum, balance signs), checks and indexes"

CHECKS = [
    ("affiliate_profiles", "aff_profile_risk_level",
     "risk_level IN ('NORMAL', 'AT_RISK', 'HIGH_RISK', 'EXTREME_RISK')"),
    ("commissions", "aff_commission_split", "main_cents + ext_cents = amount_cents"),
    ("commissions", "aff_commission_amounts",
     "main_cents >= 0 AND ext_cents >= 0 AND main_locked_cents BETWEEN 0 AND main_cents "
     "AND ext_locked_cents BETWEEN 0 AND ext_cents AND clawed_back_cents BETWEEN 0 AND amount_cents "
     "AND matured_cents >= 0"),
    ("commissions", "aff_commission_status",
     "status IN ('PENDING_LOCK', 'PARTIALLY_MATURED', 'MATURED', 'PAID', 'CLAWED_BACK', 'FROZEN')"),
    ("affiliate_payouts", "aff_payout_amount", "amount_cents > 0"),
    ("affiliate_payouts", "aff_payout_method", "method IN ('bank_transfer', 'paypal', 'stripe')"),
    ("affiliate_withdrawals", "aff_withdrawal_amount", "amount_cents > 0"),
    ("affiliate_withdrawals", "aff_withdrawal_status", "status IN ('pending', 'completed', 'rejected')"),
    ("ledger_entries", "ledger_entry_account",
     "account IN ('locked', 'frozen', 'available', 'paid_out', 'debt', "
     "'platform_commissions', 'platform_payouts')"),
    ("ledger_entries", "ledger_entry_owner", "(account LIKE 'platform\\_%') = (affiliate IS NULL)"),
    ("ledger_entries", "ledger_entry_nonzero", "amount_cents <> 0"),
]

DDL = [
    # Entries and transactions are history: no statement may change or remove them.
    """CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$""",
    "CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
    "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
    # One check per INSERT statement (not per row): a batch of 100,000 maturations is checked
    # in one set-based pass. Every transaction touched must sum to zero once the statement is
    # done, so a transaction's entries are written by one statement; and the touched affiliate
    # accounts keep their sign (available and the others >= 0, debt <= 0). Writers lock the
    # affiliate's profile row first, so concurrent statements cannot both pass on stale sums.
    """CREATE FUNCTION ledger_entries_check() RETURNS trigger LANGUAGE plpgsql AS $$
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
      SELECT e.affiliate AS aff, e.account AS acc, sum(e.amount_cents) AS total INTO bad
        FROM ledger_entries e
       WHERE (e.affiliate, e.account) IN (
             SELECT DISTINCT n.affiliate, n.account FROM new_entries n WHERE n.affiliate IS NOT NULL)
       GROUP BY e.affiliate, e.account
      HAVING (e.account = 'debt' AND sum(e.amount_cents) > 0)
          OR (e.account <> 'debt' AND sum(e.amount_cents) < 0) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'affiliate % account % would hold % cents', bad.aff, bad.acc, bad.total
          USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_balance_sign';
      END IF;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries "
    "REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_check()",
    "CREATE INDEX ledger_entries_affiliate_account ON ledger_entries (affiliate, account, id) "
    "INCLUDE (amount_cents)",
    # Maturation scans only what is still locked.
    "CREATE INDEX commissions_main_due ON commissions (main_unlock_at) WHERE main_matured_at IS NULL",
    "CREATE INDEX commissions_ext_due ON commissions (ext_unlock_at) WHERE ext_matured_at IS NULL",
    "CREATE UNIQUE INDEX aff_withdrawal_one_pending ON affiliate_withdrawals (affiliate) "
    "WHERE status = 'pending'",
]

UNDO = [
    "DROP INDEX IF EXISTS aff_withdrawal_one_pending",
    "DROP INDEX IF EXISTS commissions_ext_due",
    "DROP INDEX IF EXISTS commissions_main_due",
    "DROP INDEX IF EXISTS ledger_entries_affiliate_account",
    "DROP TRIGGER IF EXISTS ledger_entries_balanced ON ledger_entries",
    "DROP FUNCTION IF EXISTS ledger_entries_check()",
    "DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries",
    "DROP TRIGGER IF EXISTS ledger_transactions_append_only ON ledger_transactions",
    "DROP FUNCTION IF EXISTS ledger_append_only()",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="affiliates", description=DESCRIPTION)

    async def run() -> None:
        from db.piccolo_conf import DB

        for table, name, check in CHECKS:
            await DB.run_ddl(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")
        for ddl in DDL:
            await DB.run_ddl(ddl)

    async def back() -> None:
        from db.piccolo_conf import DB

        for ddl in UNDO:
            await DB.run_ddl(ddl)
        for table, name, _ in CHECKS:
            await DB.run_ddl(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
