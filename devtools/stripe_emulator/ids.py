"""Object ids with Stripe's prefixes (cus_, price_, cs_test_ ...) and random base62 bodies."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def session_id() -> str:
    # Checkout session ids are much longer than other ids; apps sometimes size columns on them.
    return new_id("cs_test_a1", 56)
