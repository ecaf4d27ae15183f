"""Stripe-shaped errors: `{"error": {"type", "message", "param", "code"}}` with Stripe's HTTP status."""

from __future__ import annotations

import json
from typing import Any


class StripeError(Exception):
    """Raised anywhere in the emulator; rendered exactly like a Stripe API error."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type_, "message": message}
        if param is not None:
            self.body["param"] = param
        if code is not None:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        self.body.update(extra)

    def payload(self) -> bytes:
        return json.dumps({"error": self.body}, indent=2).encode()


def invalid(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, param=param, code=code)


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        param=param,
        code="resource_missing",
    )


def card_declined(code: str, decline_code: str | None, message: str, **extra: Any) -> StripeError:
    fields: dict[str, Any] = dict(extra)
    if decline_code:
        fields["decline_code"] = decline_code
    return StripeError(402, "card_error", message, code=code, **fields)


def unauthorized(message: str) -> StripeError:
    return StripeError(401, "invalid_request_error", message)
