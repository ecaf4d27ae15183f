"""Resolve the host's platform and the session cookie of that platform on every request.

Litestar's JWT cookie backend has one cookie name per app and rejects anonymous requests;
here the cookie name depends on the host and anonymous requests are allowed through
(guards decide), so this small middleware sets scope["user"] itself.
"""

from __future__ import annotations

from litestar.datastructures import Headers
from litestar.types import ASGIApp, Receive, Scope, Send

from server.domains.auth.queries import user_for_cookie_header
from server.domains.platforms.queries import platform_for_host

# Paths that never need a user: skip the session lookup.
_ANONYMOUS_PREFIXES = (
    "/static/",
    "/vendor/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/schema",
    "/webhooks/",
)


def auth_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["user"] = None
            if not scope["path"].startswith(_ANONYMOUS_PREFIXES):
                headers = Headers.from_scope(scope)
                platform = platform_for_host(headers.get("host", ""))
                scope["user"] = await user_for_cookie_header(headers.get("cookie", ""), platform)
        await app(scope, receive, send)

    return middleware
