"""Dev/test SMTP server that keeps every message in Redis (`dev:mail`) for the /dev/mail pages.

Run: python -m devtools.mailcatcher --host 127.0.0.1 --port 2525 [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import msgspec
import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.settings import load_settings
from devtools.procs import listen_socket

MAIL_KEY = "dev:mail"
MAIL_KEEP = 500

log = logging.getLogger("mailcatcher")


class CaughtMail(msgspec.Struct, frozen=True, rename={"from_": "from"}):
    to: list[str]
    from_: str
    subject: str
    text: str
    html: str
    time: str
    # Stable per billing mail (kind, key): a copy sent again after a worker died between the
    # SMTP acceptance and the commit carries the same one, so it can be told apart.
    message_id: str = ""


def parse_mail(envelope_from: str, envelope_to: list[str], content: bytes) -> CaughtMail:
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default always builds EmailMessage
    return CaughtMail(
        # Envelope recipients, not the To: header: that is who was really mailed (Bcc included).
        to=list(envelope_to) or _header_addresses(message, "to"),
        from_=envelope_from or str(message.get("from", "")),
        subject=str(message.get("subject", "")),
        text=_part(message, "plain"),
        html=_part(message, "html"),
        time=datetime.now(UTC).isoformat(),
        message_id=str(message.get("message-id", "")),
    )


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return ""
    return str(body.get_content()).replace("\r\n", "\n")


def _header_addresses(message: EmailMessage, name: str) -> list[str]:
    header = message.get(name)
    return [str(addr.addr_spec) for addr in getattr(header, "addresses", ())]


class RedisMailbox:
    """aiosmtpd handler: one LPUSH per message, list capped at MAIL_KEEP."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        mail = parse_mail(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.lpush(MAIL_KEY, json.dumps(msgspec.to_builtins(mail)))
                pipe.ltrim(MAIL_KEY, 0, MAIL_KEEP - 1)
                await pipe.execute()
        except aioredis.RedisError:
            log.exception("could not store mail")
            # 4xx: a transient failure, so the sending task retries instead of losing the mail.
            return "451 Requested action aborted: local error in processing"
        log.info("caught mail to %s: %s", ", ".join(mail.to), mail.subject)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    handler = RedisMailbox(client)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def protocol() -> SMTP:
        return SMTP(handler, hostname="mailcatcher.local", enable_SMTPUTF8=True)

    # Under `make run` the port was bound (and held) when it was chosen: serve on that socket.
    held = listen_socket("SMTP_LISTEN_FD", port, os.environ)
    server = await (
        loop.create_server(protocol, sock=held)
        if held is not None
        else loop.create_server(protocol, host=host, port=port, reuse_address=True)
    )
    log.info("SMTP on %s:%d, storing in %s list %r", host, port, redis_url, MAIL_KEY)
    try:
        await stop.wait()
    finally:
        server.close()
        # Python >= 3.12 waits for open SMTP sessions here; a lingering client must not block exit.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 3)
        await client.aclose()
        log.info("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--redis-url", default=None, help="default: REDIS_URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP verb
    redis_url = args.redis_url or load_settings().redis_url
    asyncio.run(serve(args.host, args.port, redis_url))


if __name__ == "__main__":
    main()
