"""Secrets for login: CSPRNG tokens and codes, their hashes, and the signed session token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import jwt
import msgspec

from core.settings import get_settings
from server.domains.auth.schemas import SessionClaims

LOGIN_TTL_S = 15 * 60
SESSION_TTL_S = 30 * 24 * 3600
MAX_OTP_ATTEMPTS = 5


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_link_token(token: str) -> str:
    # 256 random bits need no key stretching; a plain digest is enough to make a leaked
    # table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def hash_otp(platform: str, email: str, otp: str) -> str:
    # A 6-digit code is guessable offline from a plain hash, so it is keyed with the server
    # secret, and binding platform and email means a code only works for the address it
    # was sent to.
    msg = f"{platform}\x00{email}\x00{otp}".encode()
    return hmac.new(get_settings().secret_key.encode(), msg, hashlib.sha256).hexdigest()


def encode_session(session_id: str, platform: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sid": session_id, "plat": platform, "iat": issued, "exp": issued + SESSION_TTL_S}
    return jwt.encode(claims, get_settings().secret_key, algorithm="HS256")


def decode_session(token: str) -> SessionClaims | None:
    try:
        raw = jwt.decode(
            token,
            get_settings().secret_key,
            algorithms=["HS256"],
            options={"require": ["sid", "plat", "exp", "iat"]},
        )
        return msgspec.convert(raw, SessionClaims)
    except (jwt.PyJWTError, msgspec.ValidationError):
        return None
