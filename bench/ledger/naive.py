"""The baseline: mature due commission parts one row at a time, one transaction per part.

This is what the set-based statement replaces: the same ledger transactions, entries and
commission updates, written the obvious way with a loop over rows.
"""

from __future__ import annotations

from datetime import datetime

from db.uow import atomic
from server.domains.affiliates.actions import ledger
from server.domains.affiliates.actions.ledger import Leg, sql


async def _mature_part(commission_id: int, part: str, now: datetime) -> None:
    async with atomic():
        c = (await sql("SELECT * FROM commissions WHERE id = {} FOR UPDATE", commission_id))[0]
        aff = c["affiliate"]
        await ledger.lock_profile(aff)
        amount = c[f"{part}_locked_cents"]
        owed = -(await ledger.account_balances(aff))[ledger.DEBT]
        repay = min(amount, owed)
        tx = await ledger.post(
            f"mature:{commission_id}:{part}",
            "maturation",
            aff,
            [
                Leg(ledger.LOCKED, aff, -amount),
                Leg(ledger.DEBT, aff, repay),
                Leg(ledger.AVAILABLE, aff, amount - repay),
            ],
            invoice_id=c["invoice"],
            commission_id=commission_id,
            memo=part,
        )
        if tx is None:
            return
        other = "ext" if part == "main" else "main"
        status = "MATURED" if c[f"{other}_locked_cents"] == 0 else "PARTIALLY_MATURED"
        await sql(
            f"UPDATE commissions SET {part}_locked_cents = 0, {part}_matured_at = {{}}, "
            "matured_cents = matured_cents + {}, status = {}, updated_at = now() "
            "WHERE id = {}",
            now,
            amount,
            status,
            commission_id,
        )


async def mature_naively(now: datetime) -> int:
    rows = await sql(
        "SELECT id, 'main' AS part FROM commissions WHERE status <> 'FROZEN' "
        "AND main_matured_at IS NULL AND main_locked_cents > 0 AND main_unlock_at <= {} "
        "UNION ALL SELECT id, 'ext' FROM commissions WHERE status <> 'FROZEN' "
        "AND ext_matured_at IS NULL AND ext_locked_cents > 0 AND ext_unlock_at <= {} "
        "ORDER BY 1, 2 DESC",
        now,
        now,
    )
    for row in rows:
        await _mature_part(row["id"], row["part"], now)
    return len(rows)
