"""Render branded text + HTML emails from Jinja templates."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.settings import get_settings
from server.domains.platforms.queries import Branding

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def build_message(template: str, to: str, brand: Branding, **context: Any) -> EmailMessage:
    """`template`.subject.txt, .txt and .html make one multipart/alternative message."""
    ctx = {"brand": brand, **context}
    env = _env()
    msg = EmailMessage()
    msg["Subject"] = env.get_template(f"{template}.subject.txt").render(ctx).strip()
    msg["From"] = f"{brand.name} <{get_settings().mail_from}>"
    msg["To"] = to
    msg["Message-ID"] = make_msgid(domain="weokto.local")
    msg.set_content(env.get_template(f"{template}.txt").render(ctx))
    msg.add_alternative(env.get_template(f"{template}.html").render(ctx), subtype="html")
    return msg
