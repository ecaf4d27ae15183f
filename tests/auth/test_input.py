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


@pytest.mark.parametrize(
    "email", ["a\x00b@example.com", "nul@exa\x00mple.com", "a b@example.com", "x@-bad-.com"]
)
async def test_broken_addresses_never_reach_the_queue(client, email):
    res = await client.post("/api/auth/magic-link/send", json={"email": email})
    assert res.status_code == 400, res.text
    err = res.json()["error"]
    assert err["code"] == "invalid_email" and err["message"] == "Enter a valid email address"


async def test_broken_address_message_is_translated(client):
    res = await client.post(
        "/api/auth/magic-link/send",
        json={"email": "a\x00b@example.com"},
        headers={"accept-language": "fr"},
    )
    assert res.status_code == 400
    assert res.json()["error"]["message"] == "Saisissez une adresse e-mail valide"


DEEP = b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    "path", ["/api/auth/magic-link/send", "/api/auth/magic-link/verify-otp", "/api/locale"]
)
async def test_deeply_nested_json_is_a_400_not_a_500(client, path):
    res = await client.post(path, content=DEEP, headers={"content-type": "application/json"})
    assert res.status_code == 400, res.text
    assert res.json()["error"]["code"] == "json_too_deep"
    # Without a content type the body is still JSON to the handler: still refused.
    res = await client.post(path, content=DEEP, headers={"content-type": ""})
    assert res.status_code in (400, 415), res.text


async def test_oversized_bodies_are_413_before_decoding(client):
    body = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'@example.com"}'
    res = await client.post(
        "/api/auth/magic-link/send", content=body, headers={"content-type": "application/json"}
    )
    assert res.status_code == 413, res.text
    assert res.json()["error"]["code"] == "payload_too_large"


async def test_the_webhook_exclusion_covers_only_the_webhooks(make_client):
    client = await make_client()
    del client.headers["x-csrftoken"]
    res = await client.post("/api/guilds/webhooks/join")
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden", res.text
    # The real webhook path still skips CSRF (it is signed instead): a bad signature is a 400.
    res = await client.post("/webhooks/stripe", content=b"{}")
    assert res.status_code == 400, res.text


@pytest.mark.parametrize("mark", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"])
async def test_display_names_refuse_direction_controls(client, login, mark):
    await login(client, "bidi@example.com")
    res = await client.patch("/api/auth/me", json={"display_name": f"admin{mark}gpj.exe"})
    assert res.status_code == 400, res.text
    err = res.json()["error"]
    assert err["code"] == "invalid_display_name" and err["details"] == {"field": "display_name"}
    me = (await client.get("/api/auth/me")).json()
    assert me["display_name"] == "bidi"


async def test_a_plain_display_name_is_saved(client, login):
    await login(client, "rename@example.com")
    res = await client.patch("/api/auth/me", json={"display_name": "  Zoé Martin "})
    assert res.status_code == 200, res.text
    assert res.json()["display_name"] == "Zoé Martin"
    assert (await client.get("/api/auth/me")).json()["display_name"] == "Zoé Martin"
