"""Admin endpoints: suspend or reinstate a user of the same platform."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.params import FromPath

from server.domains.auth import actions
from server.domains.auth.guards import STAFF, roles
from server.errors import error_responses


class UserStatus(msgspec.Struct):
    id: int
    status: str


class AdminUsersController(Controller):
    path = "/api/admin/users"
    tags = ["admin"]
    guards = [roles(*STAFF)]

    @post("/{user_id:int}/suspend", status_code=200, responses=error_responses(400, 401, 403, 404))
    async def suspend(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> UserStatus:
        """Suspend a user: every session of theirs stops working immediately."""
        await actions.check_suspend_user(request.user, user_id)
        return UserStatus(id=user_id, status="suspended")

    @post("/{user_id:int}/reinstate", status_code=200, responses=error_responses(401, 403, 404))
    async def reinstate(
        self, request: Request[Any, Any, Any], user_id: FromPath[int]
    ) -> UserStatus:
        """Lift a suspension (old sessions stay revoked; the user signs in again)."""
        await actions.check_reinstate_user(request.user, user_id)
        return UserStatus(id=user_id, status="active")
