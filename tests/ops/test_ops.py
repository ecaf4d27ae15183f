"""Liveness, readiness (503 without a worker), metrics, OpenAPI and the dev mail routes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.settings import load_settings


async def test_healthz_and_request_id(client):
    res = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert res.status_code == 200 and res.json() == {"status": "ok"}
    assert res.headers["x-request-id"] == "abc-123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_readyz_follows_the_worker(live_server, celery_worker):
    async with httpx.AsyncClient(base_url=live_server.weokto_url, timeout=15) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert all(c["ok"] for c in ready.json()["checks"].values())
        celery_worker.stop()
        try:
            down = await http.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["celery"]["ok"] is False and body["checks"]["postgres"]["ok"]
        finally:
            celery_worker.start()
        assert (await http.get("/readyz")).status_code == 200


async def test_metrics_expose_requests_sockets_and_tasks(live_server, read_mail):
    async with httpx.AsyncClient(base_url=live_server.weokto_url, timeout=15) as http:
        await http.get("/healthz")
        res = await http.post(
            "/api/auth/magic-link/send",
            json={"email": "m@example.com"},
            headers={"x-csrftoken": http.cookies["csrftoken"]},
        )
        assert res.status_code == 202
        await read_mail("m@example.com")
        wanted = 'celery_task_outcomes_total{state="success",task="tasks.mail.send_login_email"}'
        for _ in range(100):  # the outcome is counted just after the mail leaves the worker
            text = (await http.get("/metrics")).text
            if wanted in text:
                break
            await asyncio.sleep(0.1)
    assert "weokto_requests_total" in text and "weokto_request_duration_seconds" in text
    assert "realtime_socket_connections" in text
    assert 'celery_task_outcomes_total{state="success",task="tasks.mail.send_login_email"}' in text


async def test_openapi_documents_routes_structs_and_error_bodies(client):
    schema = (await client.get("/schema/openapi.json")).json()
    send = schema["paths"]["/api/auth/magic-link/send"]["post"]
    assert "MagicLinkSend" in str(send["requestBody"]) and "202" in send["responses"]
    assert "ErrorBody" in str(send["responses"]["429"])
    assert "/api/auth/me" in schema["paths"] and "/readyz" in schema["paths"]
    assert "ErrorBody" in schema["components"]["schemas"]


async def test_dev_mail_routes_list_caught_mail(client, read_mail, celery_worker, mailcatcher):
    await client.post("/api/auth/magic-link/send", json={"email": "dev@example.com"})
    await read_mail("dev@example.com")
    listing = (await client.get("/dev/mail.json")).json()
    assert listing[0]["to"] == ["dev@example.com"] and "code de connexion" in listing[0]["subject"]
    assert {"to", "subject", "text", "time"} <= set(listing[0])
    page = await client.get("/dev/mail")
    assert page.status_code == 200 and "dev@example.com" in page.text


def test_dev_mail_routes_do_not_exist_in_production(monkeypatch):
    import server.app as app_module

    prod = load_settings(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "postgresql://u@h/d",
            "REDIS_URL": "redis://h:1/0",
        }
    )
    monkeypatch.setattr(app_module, "get_settings", lambda: prod)
    paths = {route.path for route in app_module.create_app().routes}
    assert "/dev/mail" not in paths and "/dev/mail.json" not in paths
    assert "/api/auth/me" in paths


def test_production_requires_a_secret_key():
    with pytest.raises(RuntimeError):
        load_settings({"APP_ENV": "production"})


async def test_pages_render_per_platform(make_client):
    weokto, stam = await make_client("weokto"), await make_client("stam")
    w, s = (await weokto.get("/")).text, (await stam.get("/")).text
    assert "WEOKTO" in w and "STAM" not in w.split("<body", 1)[1]
    assert "STAM" in s and 'data-platform="stam"' in s
    assert (await weokto.get("/home")).headers.get("location") == "/login"
    assert (await weokto.get("/login")).status_code == 200
