"""Guild endpoints: list, join/leave, primary guild, channels, members, moderation, audit log."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from server.domains.auth.guards import login_required
from server.domains.guilds import actions, queries
from server.domains.guilds.schemas import (
    AuditEntry,
    ChannelRead,
    ChannelsRead,
    ChannelUpdate,
    GuildRead,
    MemberRead,
    MembershipRead,
    ModerationResult,
    PaidAccessRequest,
    PrimaryGuildRead,
    ReasonRequest,
    RoleRequest,
    TimeoutRequest,
)
from server.errors import error_responses

Limit = Annotated[int, QueryParameter(ge=1, le=100)]
RowId = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
ERRORS = error_responses(400, 401, 403, 404, 409)


class GuildController(Controller):
    path = "/api/guilds"
    tags = ["guilds"]
    guards = [login_required]

    @get("/", responses=ERRORS)
    async def list_guilds(self, request: Request[Any, Any, Any]) -> list[GuildRead]:
        """The active guilds of this platform, with my membership."""
        return await queries.list_guilds(request.user)

    @get("/{slug:str}", responses=ERRORS)
    async def get_guild(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> GuildRead:
        return await queries.get_guild_read(request.user, slug)

    @get("/{slug:str}/channels", responses=ERRORS)
    async def channels(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> ChannelsRead:
        """Channels by category, with my unread counts (members only)."""
        return await queries.list_channels(request.user, slug)

    @get("/{slug:str}/membership", responses=ERRORS)
    async def membership(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> MembershipRead:
        return await queries.membership_read(request.user, slug)

    @get("/{slug:str}/members", responses=ERRORS)
    async def members(
        self, request: Request[Any, Any, Any], slug: FromPath[str], online: FromQuery[bool] = False
    ) -> list[MemberRead]:
        return await queries.list_members(request.user, slug, online)

    @post("/{slug:str}/join", status_code=200, responses=ERRORS)
    async def join(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> MembershipRead:
        await actions.check_join(request.user, slug)
        return await queries.membership_read(request.user, slug)

    @post("/{slug:str}/leave", status_code=200, responses=ERRORS)
    async def leave(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> ModerationResult:
        """Leave a guild (not its owner): my sockets leave its rooms once it has committed."""
        return await actions.check_leave(request.user, slug)

    @post("/{slug:str}/primary", status_code=200, responses=ERRORS)
    async def primary(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> PrimaryGuildRead:
        """Make this my primary guild; possible once per 30 days (409 with the date)."""
        return await actions.check_set_primary(request.user, slug)

    @get("/{slug:str}/audit-log", responses=ERRORS)
    async def audit_log(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        before_id: RowId = None,
        limit: Limit = 50,
    ) -> list[AuditEntry]:
        """Moderation history, newest first (moderators only)."""
        return await queries.audit_log(request.user, slug, before_id, limit)


class ModerationController(Controller):
    path = "/api/guilds/{slug:str}/members/{user_id:int}"
    tags = ["moderation"]
    guards = [login_required]

    @post("/timeout", status_code=200, responses=ERRORS)
    async def timeout(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        user_id: FromPath[int],
        data: JSONBody[TimeoutRequest],
    ) -> ModerationResult:
        """Time a member out for up to 28 days (0 lifts it): they can read, not send or react."""
        return await actions.check_timeout(request.user, slug, user_id, data.seconds, data.reason)

    @post("/kick", status_code=200, responses=ERRORS)
    async def kick(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        user_id: FromPath[int],
        data: JSONBody[ReasonRequest],
    ) -> ModerationResult:
        return await actions.check_kick(request.user, slug, user_id, data.reason)

    @post("/ban", status_code=200, responses=ERRORS)
    async def ban(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        user_id: FromPath[int],
        data: JSONBody[ReasonRequest],
    ) -> ModerationResult:
        return await actions.check_ban(request.user, slug, user_id, data.reason)

    @delete("/ban", status_code=200, responses=ERRORS)
    async def unban(
        self, request: Request[Any, Any, Any], slug: FromPath[str], user_id: FromPath[int]
    ) -> ModerationResult:
        return await actions.check_unban(request.user, slug, user_id, "")

    @post("/paid-access", status_code=200, responses=ERRORS)
    async def paid_access(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        user_id: FromPath[int],
        data: JSONBody[PaidAccessRequest],
    ) -> ModerationResult:
        """The owner grants or removes paid-channel access by hand (billing does it too)."""
        return await actions.check_paid_access(request.user, slug, user_id, data.granted)

    @post("/role", status_code=200, responses=ERRORS)
    async def role(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        user_id: FromPath[int],
        data: JSONBody[RoleRequest],
    ) -> ModerationResult:
        """The owner makes a member a moderator, or a moderator a member again."""
        return await actions.check_set_role(request.user, slug, user_id, data.role)


class ChannelController(Controller):
    path = "/api/channels"
    tags = ["channels"]
    guards = [login_required]

    @patch("/{channel_id:int}", responses=ERRORS)
    async def update(
        self,
        request: Request[Any, Any, Any],
        channel_id: FromPath[int],
        data: JSONBody[ChannelUpdate],
    ) -> ChannelRead:
        """Set slow mode (0 to 21,600 s between a member's messages; moderators)."""
        return await actions.check_slow_mode(request.user, channel_id, data.slow_mode_s)
