"""The referral cookie: which affiliate link a browser last came through, and when (signed)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import msgspec

from core.settings import get_settings

COOKIE_NAME = "weokto_ref"
LINK_TTL = timedelta(days=30)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Referral(msgspec.Struct, frozen=True):
    """A click, to the millisecond (the cookie's precision)."""

    affiliate_id: int
    clicked_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.clicked_at + LINK_TTL


def _sign(body: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"ref:{body}".encode(), hashlib.sha256).hexdigest()[:32]


def encode(referral: Referral) -> str:
    body = f"{referral.affiliate_id}.{(referral.clicked_at - EPOCH) // timedelta(milliseconds=1)}"
    return f"{body}.{_sign(body)}"


def decode(value: str | None, now: datetime | None = None) -> Referral | None:
    """The referral a cookie carries, or None if it is missing, forged or older than 30 days.

    Signed so that a hand-made cookie cannot stretch a click past its 30 days.
    """
    parts = (value or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if not hmac.compare_digest(parts[2], _sign(f"{parts[0]}.{parts[1]}")):
        return None
    referral = Referral(
        affiliate_id=int(parts[0]), clicked_at=EPOCH + timedelta(milliseconds=int(parts[1]))
    )
    if referral.affiliate_id > 2**31 - 1 or referral.expires_at <= (now or _now()):
        return None
    return referral


def _now() -> datetime:
    return datetime.now(UTC)
