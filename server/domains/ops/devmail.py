"""Dev-only views of the local mail catcher (registered only outside production)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template

from core.redis import get_redis
from server.domains.platforms.deps import platform_of
from server.domains.platforms.queries import branding

MAIL_KEY = "dev:mail"


class CaughtMail(msgspec.Struct):
    to: list[str]
    subject: str
    text: str
    time: str
    html: str = ""
    sender: str = msgspec.field(default="", name="from")


async def caught_mail(limit: int = 100) -> list[CaughtMail]:
    raw = await get_redis().lrange(MAIL_KEY, 0, max(0, limit - 1))
    out: list[CaughtMail] = []
    for item in raw:
        try:
            out.append(msgspec.json.decode(item, type=CaughtMail))
        except msgspec.ValidationError:
            continue  # a malformed entry must not hide the others
    return out


class DevMailController(Controller):
    path = "/dev"
    tags = ["dev"]

    @get("/mail.json")
    async def mail_json(self, to: FromQuery[str | None] = None) -> list[CaughtMail]:
        """Mail caught by the local SMTP catcher, newest first (dev only)."""
        mails = await caught_mail()
        if to:
            mails = [m for m in mails if to.lower() in (a.lower() for a in m.to)]
        return mails

    @get("/mail", include_in_schema=False)
    async def mail_html(self, request: Request[Any, Any, Any]) -> Template:
        return Template(
            template_name="pages/devmail.html",
            context={
                "brand": branding(platform_of(request)),
                "user": request.user,
                "mails": await caught_mail(),
            },
        )
