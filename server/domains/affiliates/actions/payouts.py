"""Payouts (recorded by the owner) and withdrawal requests (asked by the affiliate).

A payout locks the affiliate's profile row and checks the available balance from the ledger,
so of several concurrent payouts against one balance exactly one can take the last cent.
"""

from __future__ import annotations

from db.uow import atomic
from server.domains.affiliates import queries
from server.domains.affiliates.actions import ledger
from server.domains.affiliates.actions.ledger import Leg, sql
from server.domains.affiliates.events import do_touch_affiliate
from server.domains.affiliates.schemas import PayoutRecord, WithdrawalRead
from server.errors import Conflict, NotFound

METHODS = ("bank_transfer", "paypal", "stripe")


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


async def _mark_paid(affiliate_id: int) -> None:
    """Mark matured commissions PAID, oldest first, as far as everything paid out covers them."""
    await sql(
        "WITH paid AS (SELECT COALESCE(sum(amount_cents), 0) AS total FROM ledger_entries "
        "  WHERE affiliate = {} AND account = 'paid_out'), "
        "covered AS (SELECT COALESCE(sum(matured_cents), 0) AS total FROM commissions "
        "  WHERE affiliate = {} AND status = 'PAID'), "
        "queue AS (SELECT id, sum(matured_cents) OVER (ORDER BY created_at, id) AS upto "
        "  FROM commissions WHERE affiliate = {} AND status = 'MATURED') "
        "UPDATE commissions c SET status = 'PAID', paid_at = now(), updated_at = now() "
        "FROM queue q, paid, covered WHERE c.id = q.id AND q.upto <= paid.total - covered.total",
        affiliate_id,
        affiliate_id,
        affiliate_id,
    )


async def _check_available(affiliate_id: int, amount_cents: int) -> None:
    """Under the profile's row lock: the balance read from the entries covers the amount."""
    available = (await ledger.account_balances(affiliate_id))[ledger.AVAILABLE]
    if amount_cents > available:
        raise InsufficientBalance(
            "The amount is more than the available balance",
            details={"available_cents": available, "amount_cents": amount_cents},
        )


async def do_record_payout(
    affiliate_id: int,
    amount_cents: int,
    method: str,
    reference: str,
    notes: str,
    recorded_by: int | None,
    withdrawal_id: int | None = None,
) -> PayoutRecord:
    """Pay `amount_cents` out of the available balance; 409 insufficient_balance if short."""
    async with atomic():
        profile = await ledger.lock_profile(affiliate_id)
        if profile is None:
            raise NotFound("No such affiliate", code="affiliate_not_found")
        await _check_available(affiliate_id, amount_cents)
        rows = await sql(
            "INSERT INTO affiliate_payouts (affiliate, amount_cents, method, reference, notes, "
            "recorded_by, created_at) VALUES ({}, {}, {}, {}, {}, {}, now()) RETURNING *",
            affiliate_id,
            amount_cents,
            method,
            reference,
            notes,
            recorded_by,
        )
        payout = queries.payout_record(rows[0])
        await ledger.post(
            f"payout:{payout.id}",
            "payout",
            affiliate_id,
            [
                Leg(ledger.AVAILABLE, affiliate_id, -amount_cents),
                Leg(ledger.PAID_OUT, affiliate_id, amount_cents),
            ],
            payout_id=payout.id,
            memo=method,
        )
        if withdrawal_id is not None:
            await _close_withdrawal(withdrawal_id, "completed", recorded_by, "", payout.id)
        await _mark_paid(affiliate_id)
        await do_touch_affiliate(affiliate_id, profile.user, "payout")
    return payout


async def do_request_withdrawal(
    affiliate_id: int, user_id: int, amount_cents: int, method: str, details: str
) -> WithdrawalRead:
    async with atomic():
        await ledger.lock_profile(affiliate_id)
        await _check_available(affiliate_id, amount_cents)
        rows = await sql(
            "INSERT INTO affiliate_withdrawals (affiliate, amount_cents, method, details, status, "
            "decision_note, created_at) SELECT {}, {}, {}, {}, 'pending', '', now() "
            "WHERE NOT EXISTS (SELECT 1 FROM affiliate_withdrawals WHERE affiliate = {} "
            "AND status = 'pending') RETURNING *",
            affiliate_id,
            amount_cents,
            method,
            details,
            affiliate_id,
        )
        if not rows:
            raise Conflict("A withdrawal request is already pending", code="withdrawal_pending")
        await do_touch_affiliate(affiliate_id, user_id, "withdrawal")
    return queries.withdrawal_read(rows[0])


async def _pending_withdrawal(withdrawal_id: int) -> WithdrawalRead:
    rows = await sql("SELECT * FROM affiliate_withdrawals WHERE id = {} FOR UPDATE", withdrawal_id)
    if not rows:
        raise NotFound("No such withdrawal request", code="withdrawal_not_found")
    if rows[0]["status"] != "pending":
        raise Conflict(
            "This withdrawal request is already decided",
            code="withdrawal_decided",
            details={"status": rows[0]["status"]},
        )
    return queries.withdrawal_read(rows[0])


async def _withdrawal_locked(withdrawal_id: int) -> WithdrawalRead:
    """The pending request, its affiliate's profile locked first (the order all writers use)."""
    rows = await sql("SELECT affiliate FROM affiliate_withdrawals WHERE id = {}", withdrawal_id)
    if not rows:
        raise NotFound("No such withdrawal request", code="withdrawal_not_found")
    await ledger.lock_profile(rows[0]["affiliate"])
    return await _pending_withdrawal(withdrawal_id)


async def _close_withdrawal(
    withdrawal_id: int, status: str, decided_by: int | None, note: str, payout_id: int | None
) -> WithdrawalRead:
    rows = await sql(
        "UPDATE affiliate_withdrawals SET status = {}, decided_by = {}, decided_at = now(), "
        "decision_note = {}, payout = {} WHERE id = {} RETURNING *",
        status,
        decided_by,
        note,
        payout_id,
        withdrawal_id,
    )
    return queries.withdrawal_read(rows[0])


async def do_complete_withdrawal(
    withdrawal_id: int, decided_by: int, reference: str, notes: str
) -> PayoutRecord:
    """Pay the requested amount (a payout) and close the request, in one transaction."""
    async with atomic():
        w = await _withdrawal_locked(withdrawal_id)
        return await do_record_payout(
            w.affiliate_id,
            w.amount_cents,
            w.method.value,
            reference,
            notes,
            decided_by,
            withdrawal_id=withdrawal_id,
        )


async def do_reject_withdrawal(withdrawal_id: int, decided_by: int, note: str) -> WithdrawalRead:
    async with atomic():
        w = await _withdrawal_locked(withdrawal_id)
        rejected = await _close_withdrawal(withdrawal_id, "rejected", decided_by, note, None)
        user = await sql('SELECT "user" FROM affiliate_profiles WHERE id = {}', w.affiliate_id)
        await do_touch_affiliate(w.affiliate_id, user[0]["user"], "withdrawal")
    return rejected
