"""Maturation: locked commission parts whose unlock date has passed become available money.

Set-based: each batch is one SQL statement that picks the due parts (FOR UPDATE SKIP LOCKED),
posts one ledger transaction per part with its entries, and moves the commissions on. Debt is
repaid first, in unlock order, before anything becomes available. Keys `mature:{id}:main|ext`
make a replay (or a second run at the same time) post nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from db.uow import atomic
from server.domains.affiliates.actions.ledger import sql
from server.domains.affiliates.events import do_touch_affiliate

BATCH = 10_000

# Commissions with a part due at a time (at most `size` per part kind), read through the
# partial indexes of still-locked parts in unlock order: a scan by id would wade through every
# part already matured.
_DUE_IDS = """
  (SELECT id FROM commissions WHERE main_matured_at IS NULL AND main_locked_cents > 0
      AND main_unlock_at <= {} AND status <> 'FROZEN' ORDER BY main_unlock_at LIMIT {})
  UNION
  (SELECT id FROM commissions WHERE ext_matured_at IS NULL AND ext_locked_cents > 0
      AND ext_unlock_at <= {} AND status <> 'FROZEN' ORDER BY ext_unlock_at LIMIT {})
"""

_CANDIDATES = f"SELECT id, affiliate FROM commissions WHERE id IN ({_DUE_IDS})"

# The candidates ($1) still due once locked (a concurrent run may have taken some).
_DUE = """
  c.id = ANY({}::int[]) AND c.status <> 'FROZEN' AND (
    (c.main_matured_at IS NULL AND c.main_locked_cents > 0 AND c.main_unlock_at <= {})
    OR (c.ext_matured_at IS NULL AND c.ext_locked_cents > 0 AND c.ext_unlock_at <= {}))
"""

_MATURE = f"""
WITH picked AS (
  SELECT c.* FROM commissions c WHERE {_DUE} ORDER BY c.id FOR UPDATE SKIP LOCKED
), parts AS (
  SELECT id, affiliate, invoice, 'main' AS part, main_locked_cents AS amount,
         main_unlock_at AS unlock_at FROM picked
   WHERE main_matured_at IS NULL AND main_locked_cents > 0 AND main_unlock_at <= {{}}
  UNION ALL
  SELECT id, affiliate, invoice, 'ext', ext_locked_cents, ext_unlock_at FROM picked
   WHERE ext_matured_at IS NULL AND ext_locked_cents > 0 AND ext_unlock_at <= {{}}
), owed AS (
  SELECT affiliate, -balance_cents AS debt FROM ledger_balances
   WHERE account = 'debt' AND affiliate IN (SELECT DISTINCT affiliate FROM parts)
), ordered AS (
  SELECT p.*, COALESCE(o.debt, 0) AS debt,
         COALESCE(sum(p.amount) OVER (PARTITION BY p.affiliate ORDER BY p.unlock_at, p.id, p.part
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM parts p LEFT JOIN owed o USING (affiliate)
), split AS (
  -- Debt is repaid by the earliest parts first; the rest of each part becomes available.
  SELECT *, 'mature:' || id || ':' || part AS key,
         LEAST(amount, GREATEST(debt - before, 0)) AS repay FROM ordered
), txs AS (
  INSERT INTO ledger_transactions (idempotency_key, kind, affiliate, invoice, commission,
                                   payout, memo, created_at)
  SELECT key, 'maturation', affiliate, invoice, id, NULL, part, now() FROM split
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key
), posted AS (
  SELECT s.*, t.id AS tx FROM split s JOIN txs t ON t.idempotency_key = s.key
), entries AS (
  INSERT INTO ledger_entries (transaction, account, affiliate, amount_cents, created_at)
  SELECT p.tx, v.account, p.affiliate, v.cents, now()
    FROM posted p CROSS JOIN LATERAL (VALUES ('locked', -p.amount), ('debt', p.repay),
                                             ('available', p.amount - p.repay)) AS v(account, cents)
   WHERE v.cents <> 0
  RETURNING 1
), per_commission AS (
  SELECT id, bool_or(part = 'main') AS main, bool_or(part = 'ext') AS ext,
         sum(amount) AS cents FROM posted GROUP BY id
), moved AS (
  UPDATE commissions c SET
    main_locked_cents = CASE WHEN m.main THEN 0 ELSE c.main_locked_cents END,
    ext_locked_cents = CASE WHEN m.ext THEN 0 ELSE c.ext_locked_cents END,
    main_matured_at = CASE WHEN m.main THEN {{}} ELSE c.main_matured_at END,
    ext_matured_at = CASE WHEN m.ext THEN {{}} ELSE c.ext_matured_at END,
    matured_cents = c.matured_cents + m.cents,
    status = CASE WHEN (m.main OR c.main_locked_cents = 0) AND (m.ext OR c.ext_locked_cents = 0)
                  THEN 'MATURED' ELSE 'PARTIALLY_MATURED' END,
    updated_at = now()
  FROM per_commission m WHERE c.id = m.id
  RETURNING c.affiliate
)
SELECT m.affiliate, ap."user" AS user_id, count(*) AS parts,
       (SELECT count(*) FROM entries) AS entries
  FROM moved m JOIN affiliate_profiles ap ON ap.id = m.affiliate GROUP BY m.affiliate, ap."user"
"""


class MaturationRun(msgspec.Struct):
    commissions: int = 0
    affiliates: int = 0
    batches: int = 0


async def _batch(now: datetime, size: int) -> tuple[int, list[dict[str, int]]]:
    """One batch in one transaction: (parts that were due, what moved per affiliate)."""
    async with atomic():
        due = await sql(_CANDIDATES, now, size, now, size)
        if not due:
            return 0, []
        # Profile locks first, in id order (the order every writer takes them), then the
        # commission rows: the same order as a sync, so the two never deadlock.
        await sql(
            "SELECT id FROM affiliate_profiles WHERE id = ANY({}::int[]) ORDER BY id FOR UPDATE",
            sorted({r["affiliate"] for r in due}),
        )
        moved = await sql(_MATURE, [r["id"] for r in due], now, now, now, now, now, now)
        for row in moved:
            await do_touch_affiliate(row["affiliate"], row["user_id"], "maturation")
        return len(due), moved


async def do_mature_due(now: datetime | None = None, batch_size: int = BATCH) -> MaturationRun:
    """Mature every part due at `now`, batch after batch, until none is left."""
    now = now or datetime.now(UTC)
    run = MaturationRun()
    idle = 0
    while idle < 3:  # rounds where a concurrent run took everything we saw; bounded
        due, moved = await _batch(now, batch_size)
        if not due:
            break
        idle = 0 if moved else idle + 1
        run.batches += 1
        run.affiliates += len(moved)
        run.commissions += sum(int(r["parts"]) for r in moved)
    return run
