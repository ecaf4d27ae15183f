"""An SMTP server for tests that answers per address: 550 for gone@, 451 for later@, 554 to the
DATA of spam@, and accepts (and keeps) everything else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from devtools.procs import free_port


@dataclass
class Refusing:
    port: int
    accepted: list[EmailMessage] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, _: Any
    ) -> str:
        self.attempts.append(address)
        local = address.split("@")[0]
        if local == "gone":
            return "550 5.1.1 No such user here"
        if local == "later":
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if any(a.startswith("spam@") for a in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.accepted.append(message)
        return "250 Message accepted for delivery"


@contextmanager
def refusing_smtp() -> Iterator[Refusing]:
    handler = Refusing(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()
