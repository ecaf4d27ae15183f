"""Affiliate money REST: my ledger and withdrawals; the owner's payouts, withdrawals, ledgers
(with CSV export) and risk edits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from server.domains.affiliates import actions, queries
from server.domains.affiliates.schemas import (
    EntryType,
    LedgerPage,
    PayableAffiliate,
    PayoutCreate,
    PayoutRecord,
    RiskRead,
    RiskUpdate,
    WithdrawalComplete,
    WithdrawalCreate,
    WithdrawalRead,
    WithdrawalReject,
)
from server.domains.auth.guards import login_required, roles
from server.domains.auth.schemas import Role
from server.errors import error_responses

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Cursor = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
Status = Literal["pending", "completed", "rejected"]
OWNER = [roles(Role.OWNER, Role.ADMIN)]


class AffiliateLedgerController(Controller):
    path = "/api/affiliate"
    tags = ["affiliates"]
    guards = [login_required]

    @get("/ledger", responses=error_responses(400, 401, 404))
    async def ledger(
        self,
        request: Request[Any, Any, Any],
        type: FromQuery[EntryType | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> LedgerPage:
        """My ledger entries, newest first, each with its account's balance after it."""
        profile = await queries.access_own_profile(request.user)
        return await queries.ledger_page(profile.id, type, cursor, limit)

    @get("/withdrawals", responses=error_responses(401, 404))
    async def my_withdrawals(self, request: Request[Any, Any, Any]) -> list[WithdrawalRead]:
        profile = await queries.access_own_profile(request.user)
        return await queries.list_withdrawals(request.user.platform, profile.id, None)

    @post("/withdrawals", status_code=201, responses=error_responses(400, 401, 404, 409))
    async def request_withdrawal(
        self, request: Request[Any, Any, Any], data: JSONBody[WithdrawalCreate]
    ) -> WithdrawalRead:
        """Ask to be paid (up to the available balance; one pending request at a time)."""
        return await actions.check_request_withdrawal(request.user, data)


class OwnerAffiliateMoneyController(Controller):
    path = "/api/owner/affiliates"
    tags = ["affiliates"]
    guards = OWNER

    @get("/payable", responses=error_responses(401, 403))
    async def payable(self, request: Request[Any, Any, Any]) -> list[PayableAffiliate]:
        """Affiliates with an available balance, largest first."""
        return await queries.payable_affiliates(request.user)

    @get("/{affiliate_id:int}/ledger", responses=error_responses(400, 401, 403, 404))
    async def ledger(
        self,
        request: Request[Any, Any, Any],
        affiliate_id: FromPath[int],
        type: FromQuery[EntryType | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> LedgerPage:
        await queries.access_affiliate(request.user, affiliate_id)
        return await queries.ledger_page(affiliate_id, type, cursor, limit)

    @get("/{affiliate_id:int}/ledger.csv", responses=error_responses(401, 403, 404))
    async def ledger_csv(
        self, request: Request[Any, Any, Any], affiliate_id: FromPath[int]
    ) -> Response[str]:
        """The whole ledger as CSV, oldest entry first."""
        profile = await queries.access_affiliate(request.user, affiliate_id)
        return Response(
            await queries.ledger_csv(affiliate_id),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="ledger-{profile.slug}.csv"'},
        )

    @patch("/{affiliate_id:int}/risk", responses=error_responses(400, 401, 403, 404))
    async def set_risk(
        self,
        request: Request[Any, Any, Any],
        affiliate_id: FromPath[int],
        data: JSONBody[RiskUpdate],
    ) -> RiskRead:
        """Change the risk level and notes (audited); later commissions lock accordingly."""
        return await actions.check_set_risk(request.user, affiliate_id, data)

    @get("/{affiliate_id:int}/risk", responses=error_responses(401, 403, 404))
    async def risk(self, request: Request[Any, Any, Any], affiliate_id: FromPath[int]) -> RiskRead:
        await queries.access_affiliate(request.user, affiliate_id)
        return await queries.risk_read(affiliate_id)


class OwnerPayoutController(Controller):
    path = "/api/owner/affiliate-payouts"
    tags = ["affiliates"]
    guards = OWNER

    @post("/", status_code=201, responses=error_responses(400, 401, 403, 404, 409))
    async def record(
        self, request: Request[Any, Any, Any], data: JSONBody[PayoutCreate]
    ) -> PayoutRecord:
        """Record a payout (up to the available balance; 409 insufficient_balance)."""
        return await actions.check_record_payout(request.user, data)


class OwnerWithdrawalController(Controller):
    path = "/api/owner/withdrawals"
    tags = ["affiliates"]
    guards = OWNER

    @get("/", responses=error_responses(400, 401, 403))
    async def list_withdrawals(
        self, request: Request[Any, Any, Any], status: FromQuery[Status | None] = None
    ) -> list[WithdrawalRead]:
        return await queries.list_withdrawals(request.user.platform, None, status)

    @post(
        "/{withdrawal_id:int}/complete",
        status_code=200,
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def complete(
        self,
        request: Request[Any, Any, Any],
        withdrawal_id: FromPath[int],
        data: JSONBody[WithdrawalComplete],
    ) -> WithdrawalRead:
        """Pay the request (a payout of its amount) and close it."""
        return await actions.check_complete_withdrawal(request.user, withdrawal_id, data)

    @post(
        "/{withdrawal_id:int}/reject",
        status_code=200,
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def reject(
        self,
        request: Request[Any, Any, Any],
        withdrawal_id: FromPath[int],
        data: JSONBody[WithdrawalReject],
    ) -> WithdrawalRead:
        return await actions.check_reject_withdrawal(request.user, withdrawal_id, data)
