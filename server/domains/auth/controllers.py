"""Auth HTTP endpoints: send a login email, verify link or code, me, logout."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from server.domains.auth import actions, queries
from server.domains.auth.guards import login_required, require_user
from server.domains.auth.schemas import (
    LocaleChoice,
    LocaleSet,
    LoggedOut,
    LoginResult,
    MagicLinkSend,
    MagicLinkSent,
    OtpVerify,
    ProfileUpdate,
    SessionRead,
    UserRead,
)
from server.domains.auth.security import SESSION_TTL_S
from server.domains.platforms.deps import client_ip, is_secure_context, platform_of
from server.domains.platforms.queries import branding
from server.errors import ClientError, error_responses
from server.i18n import locale_cookie

SENT = MagicLinkSent(
    status="sent",
    message=(
        "If this address can receive mail, a sign-in link and a 6-digit code are on their way. "
        "They are valid for 15 minutes."
    ),
)


def session_cookie(request: Request[Any, Any, Any], token: str | None) -> Cookie:
    name = branding(platform_of(request)).cookie_name
    return Cookie(
        key=name,
        value=token or "",
        max_age=SESSION_TTL_S if token else 0,
        httponly=True,
        samesite="lax",
        secure=is_secure_context(request),
        path="/",
    )


def _ua(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("user-agent", "")


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/magic-link/send", status_code=HTTP_202_ACCEPTED, responses=error_responses(400, 429, 503)
    )
    async def send_magic_link(
        self, request: Request[Any, Any, Any], data: JSONBody[MagicLinkSend]
    ) -> MagicLinkSent:
        """Email a sign-in link and code. Same answer whether or not the address is known."""
        await actions.check_send_login(platform_of(request), data.email, client_ip(request))
        return SENT

    @get("/magic-link/verify", responses=error_responses(400, 403, 429))
    async def verify_link(
        self, request: Request[Any, Any, Any], token: FromQuery[str]
    ) -> Response[Any]:
        """Sign in from the emailed link, then redirect (HTML) to choose-guild or home."""
        try:
            outcome = await actions.check_verify_link(
                platform_of(request), token, client_ip(request), _ua(request)
            )
        except ClientError as exc:
            if "text/html" in request.headers.get("accept", ""):
                return Redirect(f"/login?error={exc.code}", status_code=303)
            raise
        return Redirect(
            outcome.redirect,
            status_code=303,
            cookies=[session_cookie(request, outcome.session_token)],
        )

    @post(
        "/magic-link/verify-otp", status_code=HTTP_200_OK, responses=error_responses(400, 403, 429)
    )
    async def verify_otp(
        self, request: Request[Any, Any, Any], data: JSONBody[OtpVerify]
    ) -> Response[LoginResult]:
        """Sign in with the 6-digit code; 5 wrong codes kill the pending code."""
        outcome = await actions.check_verify_otp(
            platform_of(request), data.email, data.otp, client_ip(request), _ua(request)
        )
        body = LoginResult(redirect=outcome.redirect, user=outcome.user.read())
        return Response(body, cookies=[session_cookie(request, outcome.session_token)])

    @get("/me", responses=error_responses(401))
    async def me(self, request: Request[Any, Any, Any]) -> UserRead:
        """The signed-in user of this platform, or 401."""
        return require_user(request.user).read()

    @patch("/me", guards=[login_required], responses=error_responses(400, 401))
    async def update_me(
        self, request: Request[Any, Any, Any], data: JSONBody[ProfileUpdate]
    ) -> UserRead:
        """Change my display name, the name other members see."""
        return (await actions.check_set_display_name(request.user, data.display_name)).read()

    @post(
        "/logout", status_code=HTTP_200_OK, guards=[login_required], responses=error_responses(401)
    )
    async def logout(self, request: Request[Any, Any, Any]) -> Response[LoggedOut]:
        """Revoke this session at once and clear the cookie."""
        await actions.do_logout(request.user)
        return Response(LoggedOut(), cookies=[session_cookie(request, None)])

    @get("/sessions", guards=[login_required], responses=error_responses(401))
    async def sessions(self, request: Request[Any, Any, Any]) -> list[SessionRead]:
        """The caller's live sessions (browsers and devices), newest first."""
        return await queries.live_sessions(request.user)

    @delete(
        "/sessions/{session_id:str}",
        status_code=HTTP_200_OK,
        guards=[login_required],
        responses=error_responses(401, 404),
    )
    async def revoke_session(
        self, request: Request[Any, Any, Any], session_id: FromPath[str]
    ) -> LoggedOut:
        """Sign one of one's sessions out at once; its open pages are disconnected."""
        await actions.check_revoke_session(request.user, session_id)
        return LoggedOut(status="revoked")


class LocaleController(Controller):
    path = "/api/locale"
    tags = ["i18n"]

    @post("/", status_code=HTTP_200_OK, responses=error_responses(400, 403))
    async def set_locale(
        self, request: Request[Any, Any, Any], data: JSONBody[LocaleChoice]
    ) -> Response[LocaleSet]:
        """Switch language: the `lang` cookie for everyone, saved on a signed-in account."""
        user = request.user
        locale = await actions.check_set_locale(user, data.locale)
        cookie = locale_cookie(locale, secure=is_secure_context(request))
        return Response(LocaleSet(locale=locale, saved=user is not None), cookies=[cookie])
