"""HTML pages: landing, login, verify, choose-guild, home, the guild app and DMs, branded per platform."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from server.domains.auth.actions import home_for
from server.domains.platforms.deps import platform_of
from server.domains.platforms.queries import branding
from server.i18n import request_locale

# Reasons /login can be sent back with; login.html words each one in the reader's language.
LOGIN_ERRORS = frozenset({"invalid_link", "account_suspended"})


def _page(request: Request[Any, Any, Any], name: str, **context: Any) -> Template:
    """A page in the request's platform branding and language (`locale` sets <html lang>)."""
    brand = branding(platform_of(request))
    return Template(
        template_name=f"pages/{name}.html",
        context={
            "brand": brand,
            "user": request.user,
            "locale": request_locale(request),
            **context,
        },
    )


class PagesController(Controller):
    include_in_schema = False

    @get("/")
    async def landing(self, request: Request[Any, Any, Any]) -> Template:
        return _page(request, "landing")

    @get("/login")
    async def login(
        self, request: Request[Any, Any, Any], error: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if request.user is not None:
            return Redirect(home_for(request.user))
        return _page(request, "login", error=error if error in LOGIN_ERRORS else "")

    @get("/verify")
    async def verify(
        self, request: Request[Any, Any, Any], email: FromQuery[str] = ""
    ) -> Template | Redirect:
        if request.user is not None:
            return Redirect(home_for(request.user))
        return _page(request, "verify", email=email[:320])

    @get("/choose-guild")
    async def choose_guild(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if request.user is None:
            return Redirect("/login")
        return _page(request, "choose_guild")

    @get("/home")
    async def home(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if request.user is None:
            return Redirect("/login")
        return _page(request, "home")

    # The guild app and DMs are client-rendered from the REST API and socket events
    # (docs/realtime.md); the page only carries who is signed in. An unknown slug is shown
    # as "not found" by the client, which learns it from GET /api/guilds/{slug}.
    @get("/g/{slug:str}")
    async def guild(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> Template | Redirect:
        if request.user is None:
            return Redirect("/login")
        return _page(request, "guild", slug=slug[:100])

    @get("/dms")
    async def dms(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if request.user is None:
            return Redirect("/login")
        return _page(request, "dms")

    @get("/checkout/success")
    async def checkout_success(
        self, request: Request[Any, Any, Any], session_id: FromQuery[str] = ""
    ) -> Template | Redirect:
        """Back from Stripe: confirmed if the webhook already arrived, else wait for the push."""
        if request.user is None:
            return Redirect("/login")
        from server.domains.billing.queries import purchase_for_session

        purchase = await purchase_for_session(request.user, session_id[:255])
        return _page(request, "checkout_success", session_id=session_id[:255], purchase=purchase)

    @get("/pay/{key:str}")
    async def pay(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Template:
        """A payment button's landing: what it buys, then Stripe Checkout (sign-in first)."""
        from server.domains.catalog.queries import button_config
        from server.errors import NotFound

        try:
            config = await button_config(platform_of(request), key[:64])
        except NotFound:
            config = None
        return _page(request, "pay", config=config, key=key[:64])

    @get("/owner")
    async def seller_page(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """Sellers: products, plans, payment buttons (with their snippet) and refund requests."""
        if request.user is None:
            return Redirect("/login")
        allowed = request.user.role.value in ("owner", "admin", "product_manager")
        return _page(request, "owner", allowed=allowed)

    @get("/affiliate")
    async def affiliate_dashboard(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """Affiliates: live clicks, customers, MRR and balances; commissions, payouts, the link."""
        if request.user is None:
            return Redirect("/login")
        return _page(request, "affiliate")

    @get("/owner/affiliates")
    async def owner_affiliates_page(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """Owners: every affiliate's balances, commissions, customers and risk level."""
        if request.user is None:
            return Redirect("/login")
        return _page(
            request, "owner_affiliates", allowed=request.user.role.value in ("owner", "admin")
        )
