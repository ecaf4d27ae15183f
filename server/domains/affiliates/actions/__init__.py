"""Affiliate actions: check_* validates who may do it, do_* writes (profiles, risk, money)."""

from __future__ import annotations

from db.uow import atomic
from server.domains.affiliates import queries
from server.domains.affiliates.actions import payouts
from server.domains.affiliates.actions.ledger import lock_profile, sql
from server.domains.affiliates.events import do_touch_affiliate
from server.domains.affiliates.schemas import (
    AffiliateProfileRow,
    PayoutCreate,
    PayoutRecord,
    RiskRead,
    RiskUpdate,
    WithdrawalComplete,
    WithdrawalCreate,
    WithdrawalRead,
    WithdrawalReject,
    profile_row,
)
from server.domains.auth.schemas import CurrentUser


async def do_ensure_profile(user_id: int, slug: str) -> AffiliateProfileRow:
    """The user's affiliate profile, created once (a replay returns the existing one)."""
    rows = await sql(
        'INSERT INTO affiliate_profiles ("user", slug, risk_level, risk_notes, created_at) '
        "VALUES ({}, {}, 'NORMAL', '', now()) ON CONFLICT (\"user\") DO NOTHING RETURNING *",
        user_id,
        slug,
    )
    if not rows:
        rows = await sql('SELECT * FROM affiliate_profiles WHERE "user" = {}', user_id)
    return profile_row(rows[0])


async def do_set_risk(affiliate_id: int, level: str, notes: str, changed_by: int | None) -> None:
    """Change the risk level (audited); it decides the lock profile of later commissions."""
    async with atomic():
        profile = await lock_profile(affiliate_id)
        assert profile is not None
        await sql(
            "INSERT INTO affiliate_risk_changes (affiliate, old_level, new_level, notes, "
            "changed_by, created_at) VALUES ({}, {}, {}, {}, {}, now())",
            affiliate_id,
            profile.risk_level,
            level,
            notes,
            changed_by,
        )
        await sql(
            "UPDATE affiliate_profiles SET risk_level = {}, risk_notes = {} WHERE id = {}",
            level,
            notes,
            affiliate_id,
        )
        await do_touch_affiliate(affiliate_id, profile.user, "risk")


async def check_set_risk(owner: CurrentUser, affiliate_id: int, data: RiskUpdate) -> RiskRead:
    await queries.access_affiliate(owner, affiliate_id)
    await do_set_risk(affiliate_id, data.risk_level.value, data.notes, owner.id)
    return await queries.risk_read(affiliate_id)


async def check_record_payout(owner: CurrentUser, data: PayoutCreate) -> PayoutRecord:
    await queries.access_affiliate(owner, data.affiliate_id)
    return await payouts.do_record_payout(
        data.affiliate_id,
        data.amount_cents,
        data.method.value,
        data.reference,
        data.notes,
        owner.id,
    )


async def check_request_withdrawal(user: CurrentUser, data: WithdrawalCreate) -> WithdrawalRead:
    profile = await queries.access_own_profile(user)
    return await payouts.do_request_withdrawal(
        profile.id, user.id, data.amount_cents, data.method.value, data.details
    )


async def check_complete_withdrawal(
    owner: CurrentUser, withdrawal_id: int, data: WithdrawalComplete
) -> WithdrawalRead:
    await queries.access_withdrawal(owner, withdrawal_id)
    await payouts.do_complete_withdrawal(withdrawal_id, owner.id, data.reference, data.notes)
    return await queries.withdrawal(withdrawal_id)


async def check_reject_withdrawal(
    owner: CurrentUser, withdrawal_id: int, data: WithdrawalReject
) -> WithdrawalRead:
    await queries.access_withdrawal(owner, withdrawal_id)
    return await payouts.do_reject_withdrawal(withdrawal_id, owner.id, data.note)
