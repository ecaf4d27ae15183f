"""Deliver a message to the SMTP server named by SMTP_URL (smtp:// or smtps://, optional user:pass)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from core.settings import get_settings


def send(msg: EmailMessage, timeout: float = 10.0) -> None:
    url = urlsplit(get_settings().smtp_url)
    host, port = url.hostname or "127.0.0.1", url.port or (465 if url.scheme == "smtps" else 25)
    cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with cls(host, port, timeout=timeout) as client:
        if url.scheme == "smtp+starttls":
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(msg)
