"""Rate limits on sending codes: per address and per network, 429 with Retry-After."""

from __future__ import annotations

import pytest

from server.domains.auth import actions
from server.ratelimit import Limit

pytestmark = pytest.mark.usefixtures("celery_worker", "mailcatcher")


async def test_sixth_code_in_an_hour_for_one_address_is_refused(client):
    for _ in range(5):
        res = await client.post("/api/auth/magic-link/send", json={"email": "spam@example.com"})
        assert res.status_code == 202
    res = await client.post("/api/auth/magic-link/send", json={"email": "spam@example.com"})
    assert res.status_code == 429
    err = res.json()["error"]
    assert err["code"] == "rate_limited" and "address" in err["message"]
    retry = int(res.headers["retry-after"])
    assert 0 < retry <= 3600 and err["details"]["retry_after"] == retry
    # Another address from the same client is still served.
    other = await client.post("/api/auth/magic-link/send", json={"email": "fine@example.com"})
    assert other.status_code == 202


async def test_the_same_address_on_the_other_platform_has_its_own_budget(make_client):
    weokto, stam = await make_client("weokto"), await make_client("stam")
    for _ in range(5):
        assert (
            await weokto.post("/api/auth/magic-link/send", json={"email": "both@example.com"})
        ).status_code == 202
    assert (
        await weokto.post("/api/auth/magic-link/send", json={"email": "both@example.com"})
    ).status_code == 429
    assert (
        await stam.post("/api/auth/magic-link/send", json={"email": "both@example.com"})
    ).status_code == 202


async def test_one_network_cannot_spray_many_addresses(make_client, monkeypatch):
    monkeypatch.setattr(actions, "SEND_PER_IP", Limit("login-send-ip", max_hits=3, window_s=3600))
    attacker = await make_client(ip="203.0.113.9")
    codes = [
        (
            await attacker.post(
                "/api/auth/magic-link/send", json={"email": f"victim{i}@example.com"}
            )
        ).status_code
        for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    neighbour = await make_client(ip="198.51.100.7")
    assert (
        await neighbour.post("/api/auth/magic-link/send", json={"email": "victim9@example.com"})
    ).status_code == 202


async def test_verify_attempts_are_limited_per_network(make_client, monkeypatch):
    monkeypatch.setattr(
        actions, "VERIFY_PER_IP", Limit("login-verify-ip", max_hits=2, window_s=900)
    )
    guesser = await make_client(ip="203.0.113.10")
    statuses = [
        (
            await guesser.post(
                "/api/auth/magic-link/verify-otp", json={"email": "x@example.com", "otp": "123456"}
            )
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 429]


async def test_requests_from_elsewhere_cannot_lock_an_address_out(make_client):
    attacker = await make_client(ip="203.0.113.20")
    for _ in range(5):
        res = await attacker.post("/api/auth/magic-link/send", json={"email": "target@example.com"})
        assert res.status_code == 202
    res = await attacker.post("/api/auth/magic-link/send", json={"email": "target@example.com"})
    assert res.status_code == 429
    # The owner of the address, on another network, still gets a code.
    owner = await make_client(ip="198.51.100.20")
    res = await owner.post("/api/auth/magic-link/send", json={"email": "target@example.com"})
    assert res.status_code == 202, res.text


async def test_an_address_keeps_a_ceiling_across_networks(make_client, monkeypatch):
    monkeypatch.setattr(
        actions, "SEND_PER_EMAIL", Limit("login-send-email", max_hits=3, window_s=3600)
    )
    statuses = []
    for i in range(4):
        client = await make_client(ip=f"192.0.2.{i + 1}")
        res = await client.post("/api/auth/magic-link/send", json={"email": "many@example.com"})
        statuses.append(res.status_code)
    assert statuses == [202, 202, 202, 429]


async def test_refusals_are_counted_by_limit_name_in_metrics(make_client):
    client = await make_client(ip="203.0.113.30")
    for _ in range(6):
        await client.post("/api/auth/magic-link/send", json={"email": "count@example.com"})
    text = (await client.get("/metrics")).text
    line = next(
        (
            row
            for row in text.splitlines()
            if row.startswith("rate_limit_refusals_total{") and 'limit="login-send-email-ip"' in row
        ),
        None,
    )
    assert line is not None, text[-2000:]
    assert float(line.rsplit(" ", 1)[1]) >= 1
