"""Structured JSON logs with a request id bound to every line of a request."""

from __future__ import annotations

import logging
import sys
import time
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.logging.config import LoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import get_settings


def configure_logging() -> None:
    """structlog lines, and the standard library's (uvicorn, Celery, httpx) through the same
    renderer: with LOG_JSON every line a process logs is one JSON object."""
    json_logs = get_settings().log_json
    renderer = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.set_name(_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    # Called again (a second app in one process): replace ours, keep any other (pytest's).
    root.handlers = [h for h in root.handlers if h.get_name() != _HANDLER] + [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # warnings (Celery's as root, deprecations) as log lines too
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn set its own plain-text handlers before the app was imported.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


_HANDLER = "weokto"


def litestar_logging() -> LoggingConfig:
    """Litestar's logger (request.logger) through the root handler of configure_logging:
    Litestar's default config would put its own plain-text handler on the root logger."""
    unused = {"class": "logging.NullHandler"}  # Litestar adds these names unless given
    return LoggingConfig(
        configure_root_logger=False,
        handlers={"console": unused, "queue_listener": unused},
        loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}},
        log_exceptions="never",  # internal_error_handler logs them (server/errors.py)
    )


access_log = structlog.get_logger("http")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take X-Request-ID from the client (if sane) or make one; echo it; log one line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started, status = time.perf_counter(), 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["x-request-id"] = request_id
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    return middleware
