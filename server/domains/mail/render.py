"""Render branded text + HTML emails from Jinja templates, in the recipient's language."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.settings import get_settings
from server.domains.platforms.queries import Branding, Platform
from server.i18n import current_locale, install_jinja, locale_for_user, normalize, use_locale

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {% trans %} blocks span lines in the templates; the msgids are one line each
    # (babel.cfg extracts with the same `trimmed` setting).
    env.policies["ext.i18n.trimmed"] = True
    # One env for every language: its gettext reads current_locale() at render time.
    install_jinja(env, "messages")
    return env


def recipient_locale(saved: str | None, platform: Platform | str) -> str:
    """An email's language: the recipient's saved choice, else their platform's default."""
    return normalize(saved) or locale_for_user(None, platform)


def _mail_domain() -> str:
    return get_settings().mail_from.rpartition("@")[2] or "weokto.local"


def stable_message_id(kind: str, key: str) -> str:
    """The same Message-ID for every attempt at one mail (kind, key): a receiving server that
    dedupes on it drops the copy sent again after a worker died between the SMTP server's
    acceptance and the commit of the claim."""
    digest = hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:32]
    return f"<{kind}.{digest}@{_mail_domain()}>"


def build_message(
    template: str,
    to: str,
    brand: Branding,
    *,
    locale: str | None = None,
    message_id: str | None = None,
    **context: Any,
) -> EmailMessage:
    """`template`.subject.txt, .txt and .html make one multipart/alternative message,
    rendered in `locale` (the current locale when None). `message_id`: a stable one for a
    mail that must go once (stable_message_id), else a fresh one."""
    ctx = {"brand": brand, **context}
    env = _env()
    with use_locale(locale or current_locale()) as lang:
        subject = env.get_template(f"{template}.subject.txt").render(ctx).strip()
        text = env.get_template(f"{template}.txt").render(ctx)
        html = env.get_template(f"{template}.html").render(ctx)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = f"{brand.name} <{get_settings().mail_from}>"
    msg["To"] = to
    msg["Message-ID"] = message_id or make_msgid(domain=_mail_domain())
    msg["Content-Language"] = lang
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
