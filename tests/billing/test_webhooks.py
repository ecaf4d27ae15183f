"""Stripe webhook intake: signatures (stale, rotated), store once, process in the worker."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import msgspec
import pytest

from db.billing.tables import StripeEvent
from server.domains.billing import webhooks
from server.settings import get_settings


def signed(payload: bytes, secret: str | None = None, at: int | None = None) -> dict[str, str]:
    secret = secret or get_settings().stripe_webhook_secrets[0]
    t = int(at if at is not None else time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={mac}", "content-type": "application/json"}


def event(event_id: str = "evt_test_1", type_: str = "test.unhandled") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": type_, "created": int(time.time()),
                       "livemode": False, "api_version": "2024-06-20",
                       "data": {"object": {"id": "obj_1", "object": "thing"}}}).encode()


async def _wait_status(stripe_id: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await StripeEvent.select(StripeEvent.status).where(
            StripeEvent.stripe_id == stripe_id).first()
        if row and row["status"] not in ("received", "processing"):
            return row["status"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{stripe_id} was not processed")


async def test_signed_event_is_stored_once_and_processed_by_the_worker(client, celery_worker):
    body = event("evt_once")
    first = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert first.status_code == 200 and first.json() == {
        "received": True, "duplicate": False, "event_id": "evt_once"}
    again = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert await StripeEvent.count() == 1
    assert await _wait_status("evt_once") == "ignored"  # no handler for this type (yet)
    row = await StripeEvent.select().where(StripeEvent.stripe_id == "evt_once").first()
    assert row["attempts"] == 1 and row["type"] == "test.unhandled"


@pytest.mark.parametrize("case", ["bad-mac", "stale", "missing", "other-secret"])
async def test_bad_signatures_are_400_and_store_nothing(client, case):
    body = event(f"evt_{case}")
    headers = {"bad-mac": {"stripe-signature": f"t={int(time.time())},v1={'0' * 64}"},
               "stale": signed(body, at=int(time.time()) - 301),
               "missing": {},
               "other-secret": signed(body, secret="whsec_someone_else")}[case]
    res = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_signature"
    assert await StripeEvent.count() == 0


async def test_signed_garbage_is_400(client):
    body = b"not json at all"
    res = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert res.status_code == 400 and await StripeEvent.count() == 0


async def test_rotated_secrets_are_all_accepted(client, monkeypatch):
    settings = msgspec.structs.replace(get_settings(),
                                       stripe_webhook_secrets=("whsec_new", "whsec_old"))
    monkeypatch.setattr(webhooks, "get_settings", lambda: settings)
    for i, secret in enumerate(("whsec_old", "whsec_new")):
        body = event(f"evt_rot_{i}")
        res = await client.post("/webhooks/stripe", content=body, headers=signed(body, secret))
        assert res.status_code == 200, res.text


async def test_processing_records_failures_and_succeeds_on_retry(monkeypatch):
    calls: list[str] = []

    async def flaky(evt: dict) -> None:
        calls.append(evt["id"])
        if len(calls) == 1:
            raise RuntimeError("database hiccup")

    monkeypatch.setitem(webhooks.HANDLERS, "test.flaky", flaky)
    body = event("evt_flaky", "test.flaky")
    await webhooks.do_record_event(webhooks.stripe.Event.construct_from(json.loads(body), None),
                                   body)
    with pytest.raises(RuntimeError):
        await webhooks.do_process_event("evt_flaky")
    row = await StripeEvent.select().where(StripeEvent.stripe_id == "evt_flaky").first()
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "database hiccup" in row["last_error"]
    assert await webhooks.do_process_event("evt_flaky") == "succeeded"
    assert await webhooks.do_process_event("evt_flaky") == "skipped"  # a redelivered task
    row = await StripeEvent.select().where(StripeEvent.stripe_id == "evt_flaky").first()
    assert (row["status"], row["attempts"], calls) == ("succeeded", 2, ["evt_flaky"] * 2)


async def test_an_orphaned_claim_is_taken_over_after_the_lease(monkeypatch):
    async def ok(evt: dict) -> None:
        return None

    monkeypatch.setitem(webhooks.HANDLERS, "test.ok", ok)
    body = event("evt_orphan", "test.ok")
    await webhooks.do_record_event(webhooks.stripe.Event.construct_from(json.loads(body), None),
                                   body)
    await StripeEvent.raw("UPDATE stripe_events SET status = 'processing', "
                          "claimed_at = now() WHERE stripe_id = 'evt_orphan'")
    assert await webhooks.do_process_event("evt_orphan") == "skipped"  # lease still fresh
    await StripeEvent.raw("UPDATE stripe_events SET claimed_at = now() - interval '6 minutes' "
                          "WHERE stripe_id = 'evt_orphan'")
    assert await webhooks.do_process_event("evt_orphan") == "succeeded"
