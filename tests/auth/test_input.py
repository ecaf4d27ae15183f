"""Bad input gets a clear 4xx with the error body, never a 500; writes need the CSRF token."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"email": 5}',
        b'{"email": "a@b.co", "extra": 1}',
        b"[]",
        b'{"email": "' + b"x" * 400 + b'@example.com"}',
        b'{"email": "no-at-sign"}',
    ],
)
async def test_bad_send_bodies_are_400(client, body):
    res = await client.post(
        "/api/auth/magic-link/send", content=body, headers={"content-type": "application/json"}
    )
    assert res.status_code == 400, res.text
    err = res.json()["error"]
    assert err["code"] in ("validation_error", "invalid_email", "bad_request") and err["message"]


async def test_bad_verify_bodies_are_400(client):
    res = await client.post("/api/auth/magic-link/verify-otp", json={"email": "a@example.com"})
    assert res.status_code == 400
    res = await client.post(
        "/api/auth/magic-link/verify-otp", json={"email": "a@example.com", "otp": "12"}
    )
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_code"
    res = await client.get("/api/auth/magic-link/verify")
    assert res.status_code == 400
    res = await client.get("/api/auth/magic-link/verify?token=%00%ff")
    assert res.status_code == 400


async def test_writes_without_csrf_token_are_refused(make_client):
    client = await make_client()
    del client.headers["x-csrftoken"]
    res = await client.post("/api/auth/magic-link/send", json={"email": "a@example.com"})
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"


async def test_unknown_route_is_a_json_404(client):
    res = await client.get("/api/nope")
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"


async def test_me_without_session_is_401(client):
    res = await client.get("/api/auth/me")
    assert res.status_code == 401 and res.json()["error"]["code"] == "not_authenticated"
