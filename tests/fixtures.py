"""Shared test fixtures: in-process API clients per platform, login helper, event capture."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

# Login mails are in the recipient's language (French unless they chose English).
CODE_RE = re.compile(r"(?:sign-in code|code de connexion)\s*:\s*(\d{6})")
LINK_RE = re.compile(r"(https?://\S+/api/auth/magic-link/verify\?token=\S+)")

HOSTS = {"weokto": "http://localhost", "stam": "http://stam.localhost"}


def code_of(mail: dict[str, Any]) -> str:
    match = CODE_RE.search(mail["text"])
    assert match, f"no code in mail: {mail['text']!r}"
    return match.group(1)


def link_of(mail: dict[str, Any]) -> str:
    match = LINK_RE.search(mail["text"])
    assert match, f"no link in mail: {mail['text']!r}"
    return match.group(1)


@pytest.fixture(scope="session")
def app(db: None) -> Any:
    from server.app import create_app

    return create_app()


MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(app: Any) -> AsyncIterator[MakeClient]:
    """Clients talk to the Litestar app in-process; each is one browser with its cookie jar."""
    made: list[httpx.AsyncClient] = []

    async def make(platform: str = "weokto", ip: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        client = httpx.AsyncClient(transport=transport, base_url=HOSTS[platform])
        # Existing tests read English error messages; tests/i18n sets its own languages.
        client.headers["accept-language"] = "en"
        await client.get("/healthz")  # the CSRF middleware sets csrftoken on a safe request
        client.headers["x-csrftoken"] = client.cookies["csrftoken"]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client("weokto")


Login = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def login(read_mail: Any, celery_worker: Any, mailcatcher: Any) -> Login:
    """Sign a client in the way a person does: send, read the code from the catcher, verify."""

    async def do(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
        sent = await client.post("/api/auth/magic-link/send", json={"email": email})
        assert sent.status_code == 202, sent.text
        mail = await read_mail(email)
        res = await client.post(
            "/api/auth/magic-link/verify-otp", json={"email": email, "otp": code_of(mail)}
        )
        assert res.status_code == 200, res.text
        return res.json()

    return do


@pytest.fixture
def captured_events() -> Any:
    """Capture what the emitter would publish (decoded from the queued Structs)."""
    import msgspec

    from realtime import emitter

    seen: list[dict[str, Any]] = []

    def capture(item: emitter.QueuedEvent) -> None:
        seen.append(
            {
                "room": item.room,
                "event": item.event,
                "payload": msgspec.json.decode(msgspec.json.encode(item.payload)),
            }
        )

    # Throttle windows are per process and keyed by ids, which restart with every test:
    # a window left open by an earlier test would swallow this test's first events.
    from server.domains.guilds import events as guild_events

    emitter._coalescer = emitter.Coalescer()
    guild_events._batcher = guild_events.PresenceBatcher()
    emitter.set_sender(capture)
    yield seen
    emitter.set_sender(None)


async def wait_mails(email: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Every caught mail to `email`, newest first, once there are at least `count`."""
    import asyncio
    import json
    import time

    from core.redis import get_redis

    deadline = time.monotonic() + timeout
    while True:
        raw = await get_redis().lrange("dev:mail", 0, -1)
        mails = [m for m in map(json.loads, raw) if email in m["to"]]
        if len(mails) >= count:
            return mails
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} mail(s) to {email}, got {len(mails)}")
        await asyncio.sleep(0.1)


async def until(predicate: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Poll an async predicate until it returns something other than None (bounded)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := await predicate()) is not None:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")
