"""Who may read the API schema and the metrics: anyone outside production, else an admin or
the metrics scraper.

The OpenAPI document maps every endpoint and /metrics tells traffic and failures: useful to an
attacker, so in production (unless OPS_PUBLIC=1, e.g. when only a private network reaches the
process) they need a signed-in admin or owner, or `Authorization: Bearer $OPS_TOKEN`.
"""

from __future__ import annotations

import hmac

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from core.settings import get_settings
from server.domains.auth.queries import user_for_cookie_header
from server.domains.auth.schemas import Role
from server.domains.platforms.queries import platform_for_host
from server.errors import Forbidden

OPS_PATHS = ("/schema", "/metrics")
_ADMINS = frozenset({Role.ADMIN, Role.OWNER})


def is_ops_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPS_PATHS)


async def _allowed(headers: Headers, token: str) -> bool:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
        return True
    platform = platform_for_host(headers.get("host", ""))
    user = await user_for_cookie_header(headers.get("cookie", ""), platform)
    return user is not None and user.role in _ADMINS


def ops_access_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and is_ops_path(scope["path"]):
            settings = get_settings()
            if not settings.ops_public and not await _allowed(
                Headers.from_scope(scope), settings.ops_token
            ):
                raise Forbidden("Only administrators can read this", code="forbidden")
        await app(scope, receive, send)

    return middleware
