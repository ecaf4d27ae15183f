"""In production the API schema and the metrics are not public, and the session cookie is Secure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import get_settings

TOKEN = "ops-token-for-tests-0123456789"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings of a production process (read again by every get_settings() caller)."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("OPS_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
async def prod_client(production: None, db: Any) -> Any:
    from server.app import create_app

    transport = httpx.ASGITransport(app=create_app(), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as client:
        await client.get("/healthz")
        client.headers["x-csrftoken"] = client.cookies.get("csrftoken", "")
        yield client


@pytest.mark.parametrize("path", ["/schema/openapi.json", "/schema", "/metrics"])
async def test_schema_and_metrics_are_not_public_in_production(prod_client, path):
    res = await prod_client.get(path)
    assert res.status_code == 403, res.text[:300]
    assert res.json()["error"]["code"] == "forbidden"
    res = await prod_client.get(path, headers={"authorization": "Bearer wrong"})
    assert res.status_code == 403
    res = await prod_client.get(path, headers={"authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200


async def test_schema_and_metrics_stay_open_outside_production(client):
    assert (await client.get("/schema/openapi.json")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_the_production_session_cookie_is_secure_on_any_host(
    prod_client, read_mail, celery_worker
):
    from tests.fixtures import code_of

    email = "secure@example.com"
    sent = await prod_client.post("/api/auth/magic-link/send", json={"email": email})
    assert sent.status_code == 202, sent.text
    code = code_of(await read_mail(email))
    res = await prod_client.post(
        "/api/auth/magic-link/verify-otp", json={"email": email, "otp": code}
    )
    assert res.status_code == 200, res.text
    cookies = [v for k, v in res.headers.multi_items() if k == "set-cookie"]
    session = [
        c for c in cookies if c.startswith("weokto_session=") or "session" in c.split("=")[0]
    ]
    assert session, cookies
    assert all("secure" in c.lower() for c in session), session


async def test_an_admin_session_opens_them_and_a_member_session_does_not(
    prod_client, read_mail, celery_worker
):
    from db.auth.tables import User
    from tests.fixtures import code_of

    email = "ops-admin@example.com"
    await prod_client.post("/api/auth/magic-link/send", json={"email": email})
    code = code_of(await read_mail(email))
    res = await prod_client.post(
        "/api/auth/magic-link/verify-otp", json={"email": email, "otp": code}
    )
    assert res.status_code == 200, res.text
    assert (await prod_client.get("/metrics")).status_code == 403  # a member
    await User.update({User.role: "admin"}).where(User.email == email)
    assert (await prod_client.get("/metrics")).status_code == 200
    assert (await prod_client.get("/schema/openapi.json")).status_code == 200
