"""Application errors and the one mapper that turns them into JSON error bodies.

Raise sites pass an English literal (the msgid); the mapper translates it into the reader's
locale, so bodies keep a stable `code` and a translated `message`. The literals are extracted
by babel.cfg's extractor (server/i18n.py: extract_python), which knows these classes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from server.i18n import N_, gettext, request_locale


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    details: Any = None


class ErrorBody(msgspec.Struct):
    """The shape of every 4xx/5xx body: {"error": {"code", "message", "details"}}."""

    error: ErrorDetail


class AppError(Exception):
    status_code = HTTP_500_INTERNAL_SERVER_ERROR
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details
        self.headers = headers or {}

    def body(self, locale: str | None = None) -> ErrorBody:
        """The JSON body, its message in `locale` (the current locale when None)."""
        message = gettext(self.message, locale)
        return ErrorBody(error=ErrorDetail(code=self.code, message=message, details=self.details))


class ClientError(AppError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ClientError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ClientError):
    status_code = 403
    code = "forbidden"


class NotFound(ClientError):
    status_code = 404
    code = "not_found"


class Conflict(ClientError):
    status_code = 409
    code = "conflict"


class RateLimited(ClientError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            details={"retry_after": retry_after, **(details or {})},
            headers={"Retry-After": str(retry_after)},
        )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def _json(body: ErrorBody, status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        content=msgspec.to_builtins(body),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers or {},
    )


# Litestar's own exception details (routing, CSRF, body size, methods), marked so the
# extractor puts them in the catalog; anything else Litestar says passes through untranslated.
_LITESTAR_DETAILS = (
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("CSRF token verification failed"),
    N_("Request Entity Too Large"),
    N_("Unsupported Media Type"),
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Too Many Requests"),
    N_("Service Unavailable"),
    N_("Internal Server Error"),
)


def app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    return _json(exc.body(request_locale(request)), exc.status_code, exc.headers)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    locale = request_locale(request)
    if isinstance(exc, ValidationException):
        # Only the top-level message: the details name fields and are for programs.
        message = gettext(N_("Invalid request"), locale)
        body = ErrorBody(ErrorDetail("validation_error", message, exc.extra))
    else:
        code = _HTTP_CODES.get(status, "error" if status < 500 else "internal_error")
        body = ErrorBody(ErrorDetail(code, gettext(str(exc.detail), locale), exc.extra or None))
    return _json(body, status, dict(exc.headers or {}))


def db_input_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Last line of defence: a value PostgreSQL cannot hold (an id past int4, say) is the
    # client's mistake, not ours. Validators should catch these first.
    message = gettext(N_("A value is out of range"), request_locale(request))
    return _json(ErrorBody(ErrorDetail("invalid_input", message)), 400)


# PostgreSQL down or restarting (db/engine.py UNAVAILABLE_ERRORS): nothing was done, try again.
DB_UNAVAILABLE_MESSAGE = N_("The service is briefly unavailable, try again shortly")
RETRY_AFTER_S = 5


def unavailable_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request.logger.warning("database unavailable", exc_info=exc)
    message = gettext(DB_UNAVAILABLE_MESSAGE, request_locale(request))
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return _json(ErrorBody(ErrorDetail("unavailable", message)), 503, headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request.logger.exception("unhandled error", exc_info=exc)
    message = gettext(N_("Internal server error"), request_locale(request))
    return _json(ErrorBody(ErrorDetail("internal_error", message)), 500)


def _db_input_errors() -> ExceptionHandlersMap:
    from asyncpg.exceptions import DataError

    return {DataError: db_input_error_handler}


def _db_unavailable_errors() -> ExceptionHandlersMap:
    from db.engine import UNAVAILABLE_ERRORS

    return dict.fromkeys(UNAVAILABLE_ERRORS, unavailable_error_handler)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    **_db_input_errors(),
    **_db_unavailable_errors(),
    AppError: app_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}

ERROR_CODES = (400, 401, 403, 404, 409, 429)

_DESCRIPTIONS = {
    400: "Invalid input",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Rate limited (see Retry-After)",
    503: "A dependency is unavailable",
}


def error_responses(*codes: int) -> dict[int, Any]:
    """OpenAPI entries documenting the error body for the given status codes."""
    from litestar.openapi.datastructures import ResponseSpec

    return {
        c: ResponseSpec(data_container=ErrorBody, description=_DESCRIPTIONS.get(c, "Error"))
        for c in codes
    }
