"""Role guards usable on any Litestar route (as guards) and any socket event (check_roles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from server.domains.auth.schemas import CurrentUser, Role
from server.errors import Forbidden, Unauthorized

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def require_user(user: CurrentUser | None) -> CurrentUser:
    if user is None:
        raise Unauthorized("Sign in first", code="not_authenticated")
    return user


def check_roles(user: CurrentUser | None, allowed: frozenset[Role]) -> CurrentUser:
    user = require_user(user)
    if allowed and user.role not in allowed:
        raise Forbidden(
            "Your role does not allow this",
            code="role_required",
            details={"allowed": sorted(r.value for r in allowed)},
        )
    return user


def login_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    require_user(connection.user)


def roles(*allowed: Role) -> Guard:
    wanted = frozenset(allowed)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        check_roles(connection.user, wanted)

    guard.__name__ = "roles_" + "_".join(r.value for r in allowed)
    return guard


STAFF = (Role.ADMIN, Role.OWNER)
