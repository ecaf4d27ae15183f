"""Affiliate endpoints: link tracking (sets the referral cookie), the dashboard, owner views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, QueryParameter

from server.domains.affiliates.queries import access_own_profile
from server.domains.auth.guards import login_required, roles
from server.domains.auth.schemas import Role
from server.domains.platforms.deps import client_ip, is_secure_context
from server.domains.tracking import actions, cookie, queries
from server.domains.tracking.schemas import (
    AffiliateDetail,
    AffiliateStats,
    AffiliateSummary,
    Claimed,
    CommissionFilter,
    CommissionRead,
    CommissionStatus,
    PayoutRead,
    Source,
    Tracked,
    Visit,
)
from server.errors import error_responses

Slug = Annotated[str, QueryParameter(min_length=1, max_length=64)]
Text = Annotated[str, QueryParameter(max_length=1000)]
RowId = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]


def _ref_cookie(request: Request[Any, Any, Any], value: str | None) -> Cookie:
    return Cookie(
        key=cookie.COOKIE_NAME,
        value=value or "",
        max_age=int(cookie.LINK_TTL.total_seconds()) if value else 0,
        httponly=True,
        samesite="lax",
        secure=is_secure_context(request),
        path="/",
    )


def _visit(request: Request[Any, Any, Any], landing: str, referrer: str) -> Visit:
    # The page reports its own path and document.referrer; called directly, the headers say.
    return Visit(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        referrer=referrer or request.headers.get("referer", ""),
        landing_path=landing or request.url.path,
    )


class TrackingController(Controller):
    path = "/api/affiliate"
    tags = ["affiliates"]

    @get("/track", responses=error_responses(400, 404))
    async def track(
        self, request: Request[Any, Any, Any], ref: Slug, landing: Text = "", referrer: Text = ""
    ) -> Response[Tracked]:
        """Record a click on an affiliate link and remember it for 30 days (HttpOnly cookie)."""
        tracked, referral = await actions.check_track_click(
            ref, _visit(request, landing, referrer), request.user
        )
        return Response(tracked, cookies=[_ref_cookie(request, cookie.encode(referral))])

    @post("/claim", status_code=200, guards=[login_required], responses=error_responses(401))
    async def claim(self, request: Request[Any, Any, Any]) -> Response[Claimed]:
        """Attribute me to the referral my browser carries; the cookie is then spent."""
        done = await actions.check_claim(request.user, request.cookies.get(cookie.COOKIE_NAME))
        return Response(Claimed(attributed=done), cookies=[_ref_cookie(request, None)])


class AffiliateDashboardController(Controller):
    path = "/api/affiliate"
    tags = ["affiliates"]
    guards = [login_required]

    @get("/stats", responses=error_responses(400, 401, 404))
    async def stats(self, request: Request[Any, Any, Any]) -> AffiliateStats:
        """My clicks, sign-ups, customers, MRR and balances (refetch on `affiliate_update`)."""
        profile = await access_own_profile(request.user)
        return await queries.stats(profile)

    @get("/commissions", responses=error_responses(400, 401, 404))
    async def commissions(
        self,
        request: Request[Any, Any, Any],
        status: FromQuery[CommissionStatus | None] = None,
        source: FromQuery[Source | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        before_id: RowId = None,
        limit: Limit = 50,
    ) -> list[CommissionRead]:
        """My commissions, newest first, filtered by status, source and creation time."""
        profile = await access_own_profile(request.user)
        return await queries.list_commissions(
            profile.id,
            CommissionFilter(
                status=status,
                source=source,
                since=since,
                until=until,
                before_id=before_id,
                limit=limit,
            ),
        )

    @get("/payouts", responses=error_responses(401, 404))
    async def payouts(self, request: Request[Any, Any, Any]) -> list[PayoutRead]:
        profile = await access_own_profile(request.user)
        return await queries.list_payouts(profile.id)


class OwnerAffiliatesController(Controller):
    path = "/api/owner/affiliates"
    tags = ["affiliates"]
    guards = [roles(Role.OWNER, Role.ADMIN)]

    @get("/", responses=error_responses(401, 403))
    async def list_affiliates(self, request: Request[Any, Any, Any]) -> list[AffiliateSummary]:
        """Every affiliate of my platform with their risk level, counts and balances."""
        return await queries.list_affiliates(request.user)

    @get("/{affiliate_id:int}", responses=error_responses(401, 403, 404))
    async def affiliate_detail(
        self, request: Request[Any, Any, Any], affiliate_id: FromPath[int]
    ) -> AffiliateDetail:
        """One affiliate: profile, balances, commissions and customers."""
        return await queries.affiliate_detail(request.user, affiliate_id)
