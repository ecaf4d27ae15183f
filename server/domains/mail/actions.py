"""What the mail domain writes: the refusals of the SMTP server, kept for ops (never retried)."""

from __future__ import annotations

import structlog

from db.billing.tables import MailRefusal
from server.domains.mail.smtp import MailRefused

log = structlog.get_logger(__name__)


async def do_record_refusal(kind: str, ref: str, refusal: MailRefused) -> None:
    """One row per refused mail; inside a caller's atomic() it commits with that block."""
    log.warning(
        "mail refused for good",
        kind=kind,
        ref=ref,
        address=refusal.address,
        code=refusal.code,
        reason=refusal.reason,
    )
    await MailRefusal.raw(
        "INSERT INTO mail_refusals (kind, ref, address, code, reason, created_at) "
        "VALUES ({}, {}, {}, {}, {}, now())",
        kind[:32],
        ref[:255],
        refusal.address[:320],
        refusal.code,
        refusal.reason[:2000],
    )
