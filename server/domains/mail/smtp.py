"""Deliver a message to the SMTP server named by SMTP_URL (smtp:// or smtps://, optional user:pass).

A permanent refusal of the message or its recipient (a 5xx reply to RCPT or DATA) is raised as
MailRefused, which no task retries: the same message would be refused again. Everything else
(a 4xx reply, a connection refused, dropped or timed out) stays an SMTPException or OSError,
retried with backoff by the mail tasks. A 5xx to MAIL FROM or to the login is our own
configuration, not the recipient's fault: retried too, so it shows as failing tasks.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from core.settings import get_settings


class MailRefused(Exception):
    """The SMTP server refused this message for good (a 5xx reply)."""

    def __init__(self, address: str, code: int, reason: str) -> None:
        super().__init__(f"{address}: {code} {reason}")
        self.address = address
        self.code = code
        self.reason = reason


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def permanent_refusal(exc: smtplib.SMTPException, to: str) -> MailRefused | None:
    """The refusal behind `exc` when it is permanent, else None (to be retried)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.items())
        if replies and all(code >= 500 for _, (code, _msg) in replies):
            address, (code, reason) = replies[0]
            return MailRefused(address, code, _text(reason))
    elif isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500:
        return MailRefused(to, exc.smtp_code, _text(exc.smtp_error))
    return None


def send(msg: EmailMessage, timeout: float = 10.0) -> None:
    """Returns once the server has accepted the message; raises MailRefused (final) or a
    transient SMTPException / OSError."""
    url = urlsplit(get_settings().smtp_url)
    host, port = url.hostname or "127.0.0.1", url.port or (465 if url.scheme == "smtps" else 25)
    cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    try:
        client = cls(host, port, timeout=timeout)
        try:
            if url.scheme == "smtp+starttls":
                client.starttls()
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(msg)
        finally:
            _quit(client)
    except smtplib.SMTPException as exc:
        refusal = permanent_refusal(exc, str(msg.get("To", "")))
        if refusal is not None:
            raise refusal from exc
        raise


def _quit(client: smtplib.SMTP) -> None:
    # Not `with`: its QUIT may fail after the message was accepted, and a retry of an
    # accepted message would send it twice. What happens after DATA is accepted is ignored.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
