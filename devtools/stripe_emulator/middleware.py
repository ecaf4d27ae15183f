"""ASGI layers in front of the /v1 routes: Stripe's API-key check and Idempotency-Key replay."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from devtools.stripe_emulator.errors import StripeError, unauthorized

KEY_PREFIXES = ("sk_test_", "rk_test_")
KEEP_KEYS = 10_000  # Stripe keeps keys 24 h; a bounded LRU is plenty for dev and tests
NOT_SAVED = (401, 409, 429)  # Stripe saves no result for requests that never started executing


async def _send_error(send: Send, error: StripeError) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": error.payload()})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def api_key(scope: Scope) -> str | None:
    """The key from `Authorization: Bearer sk_...` or HTTP basic (`curl -u sk_...:`)."""
    header = _header(scope, b"authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0] or None
        except ValueError:
            return None
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            key = api_key(scope)
            if key is None:
                await _send_error(
                    send,
                    unauthorized(
                        "You did not provide an API key. You need to provide your API key in the Authorization header, "
                        "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
                    ),
                )
                return
            if not key.startswith(KEY_PREFIXES):
                await _send_error(
                    send, unauthorized(f"Invalid API Key provided: {key[:8]}****{key[-4:]}")
                )
                return
        await self.app(scope, receive, send)


@dataclass
class Saved:
    fingerprint: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class IdempotencyMiddleware:
    """Same key + same params replays the first response; same key + other params is a 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.saved: OrderedDict[str, Saved] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def clear(self) -> None:
        self.saved.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        cache_key = f"{api_key(scope)}:{key}"
        fingerprint = _fingerprint(scope, body)
        lock = self._locks.setdefault(cache_key, asyncio.Lock())
        try:
            async with lock:  # a concurrent retry waits for the first request, then replays it
                saved = self.saved.get(cache_key)
                if saved is None:
                    saved = await self._run(scope, body, send, fingerprint)
                    if saved.status not in NOT_SAVED:
                        self._remember(cache_key, saved)
                    return
        finally:
            self._locks.pop(cache_key, None)
        if saved.fingerprint != fingerprint:
            await _send_error(
                send,
                StripeError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                ),
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": saved.status,
                "headers": [*saved.headers, (b"idempotent-replayed", b"true")],
            }
        )
        await send({"type": "http.response.body", "body": saved.body})

    async def _run(self, scope: Scope, body: bytes, send: Send, fingerprint: str) -> Saved:
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        saved = Saved(fingerprint, 500, [], b"")
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                saved.status, saved.headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay_body, capture)
        saved.body = b"".join(chunks)
        return saved

    def _remember(self, cache_key: str, saved: Saved) -> None:
        self.saved[cache_key] = saved
        while len(self.saved) > KEEP_KEYS:
            self.saved.popitem(last=False)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _fingerprint(scope: Scope, body: bytes) -> str:
    # Parameter order does not matter to Stripe's comparison; the path and values do.
    pairs = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return hashlib.sha256(repr((scope["path"], pairs)).encode()).hexdigest()
