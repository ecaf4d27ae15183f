"""Stripe webhook intake: signatures (stale, rotated), store once, process in the worker."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import msgspec
import pytest

from core.settings import get_settings
from db.billing.tables import StripeEvent
from server.domains.billing.actions import webhooks
from server.integrations.stripe import EventView


def signed(payload: bytes, secret: str | None = None, at: int | None = None) -> dict[str, str]:
    secret = secret or get_settings().stripe_webhook_secrets[0]
    t = int(at if at is not None else time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={mac}", "content-type": "application/json"}


def event(event_id: str = "evt_test_1", type_: str = "test.unhandled") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": type_,
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2024-06-20",
            "data": {"object": {"id": "obj_1", "object": "thing"}},
        }
    ).encode()


async def _wait_status(stripe_id: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = (
            await StripeEvent.select(StripeEvent.status)
            .where(StripeEvent.stripe_id == stripe_id)
            .first()
        )
        if row and row["status"] not in ("received", "processing"):
            return row["status"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{stripe_id} was not processed")


async def test_signed_event_is_stored_once_and_processed_by_the_worker(client, celery_worker):
    body = event("evt_once")
    first = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert first.status_code == 200 and first.json() == {
        "received": True,
        "duplicate": False,
        "event_id": "evt_once",
    }
    again = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert await StripeEvent.count() == 1
    assert await _wait_status("evt_once") == "ignored"  # no handler for this type (yet)
    row = await StripeEvent.select().where(StripeEvent.stripe_id == "evt_once").first()
    assert row["attempts"] == 1 and row["type"] == "test.unhandled"


@pytest.mark.parametrize("case", ["bad-mac", "stale", "missing", "other-secret"])
async def test_bad_signatures_are_400_and_store_nothing(client, case):
    body = event(f"evt_{case}")
    headers = {
        "bad-mac": {"stripe-signature": f"t={int(time.time())},v1={'0' * 64}"},
        "stale": signed(body, at=int(time.time()) - 301),
        "missing": {},
        "other-secret": signed(body, secret="whsec_someone_else"),
    }[case]
    res = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_signature"
    assert await StripeEvent.count() == 0


async def test_signed_garbage_is_400(client):
    body = b"not json at all"
    res = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert res.status_code == 400 and await StripeEvent.count() == 0


async def test_rotated_secrets_are_all_accepted(client, monkeypatch):
    settings = msgspec.structs.replace(
        get_settings(), stripe_webhook_secrets=("whsec_new", "whsec_old")
    )
    monkeypatch.setattr(webhooks, "get_settings", lambda: settings)
    for i, secret in enumerate(("whsec_old", "whsec_new")):
        body = event(f"evt_rot_{i}")
        res = await client.post("/webhooks/stripe", content=body, headers=signed(body, secret))
        assert res.status_code == 200, res.text


async def test_processing_records_failures_and_succeeds_on_retry(monkeypatch):
    calls: list[str] = []

    async def flaky(evt: EventView) -> None:
        calls.append(evt.id)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")

    monkeypatch.setitem(webhooks.HANDLERS, "test.flaky", flaky)
    body = event("evt_flaky", "test.flaky")
    await webhooks.do_record_event(
        webhooks.stripe.Event.construct_from(json.loads(body), None), body
    )
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
    async def ok(evt: EventView) -> None:
        return None

    monkeypatch.setitem(webhooks.HANDLERS, "test.ok", ok)
    body = event("evt_orphan", "test.ok")
    await webhooks.do_record_event(
        webhooks.stripe.Event.construct_from(json.loads(body), None), body
    )
    await StripeEvent.raw(
        "UPDATE stripe_events SET status = 'processing', "
        "claimed_at = now() WHERE stripe_id = 'evt_orphan'"
    )
    assert await webhooks.do_process_event("evt_orphan") == "skipped"  # lease still fresh
    await StripeEvent.raw(
        "UPDATE stripe_events SET claimed_at = now() - interval '6 minutes' "
        "WHERE stripe_id = 'evt_orphan'"
    )
    assert await webhooks.do_process_event("evt_orphan") == "succeeded"


async def test_concurrent_requests_are_stored_together_each_once(client, celery_worker):
    bodies = [event(f"evt_many_{i}") for i in range(20)] + [event("evt_many_0")] * 4
    answers = await asyncio.gather(
        *(client.post("/webhooks/stripe", content=b, headers=signed(b)) for b in bodies)
    )
    assert {a.status_code for a in answers} == {200}
    fresh = [a.json()["event_id"] for a in answers if not a.json()["duplicate"]]
    assert sorted(fresh) == sorted(f"evt_many_{i}" for i in range(20))  # evt_many_0 new once
    assert await StripeEvent.count() == 20
    for i in range(20):
        assert await _wait_status(f"evt_many_{i}") == "ignored"
    rows = await StripeEvent.select(StripeEvent.attempts)
    assert {r["attempts"] for r in rows} == {1}


async def test_events_accepted_while_the_worker_is_down_are_processed_when_it_is_back(
    client, stop_worker
):
    for i in range(3):
        body = event(f"evt_down_{i}")
        res = await client.post("/webhooks/stripe", content=body, headers=signed(body))
        assert res.status_code == 200  # stored, acknowledged, queued
    statuses = {r["status"] for r in await StripeEvent.select(StripeEvent.status)}
    assert statuses == {"received"}
    stop_worker.start()
    for i in range(3):
        assert await _wait_status(f"evt_down_{i}") == "ignored"


async def test_a_drain_hands_over_after_its_batches_and_nothing_runs_twice(celery_worker):
    for i in range(5):
        body = event(f"evt_batch_{i}")
        await webhooks.do_record_event(
            webhooks.stripe.Event.construct_from(json.loads(body), None), body
        )
    assert await webhooks.do_drain(batch=2, max_batches=1) == 2  # then a fresh task goes on
    for i in range(5):
        assert await _wait_status(f"evt_batch_{i}") == "ignored"
    rows = await StripeEvent.select(StripeEvent.attempts)
    assert [r["attempts"] for r in rows] == [1] * 5


async def test_the_drain_runs_handlers_and_retries_a_failure_on_its_own(monkeypatch):
    calls: list[str] = []
    queued: list[tuple] = []

    async def flaky(evt: EventView) -> None:
        calls.append(evt.id)
        if evt.id == "evt_bad":
            raise RuntimeError("boom")

    async def fake_enqueue(name: str, *args: object) -> None:
        queued.append((name, *args))

    monkeypatch.setitem(webhooks.HANDLERS, "test.flaky", flaky)
    monkeypatch.setattr(webhooks, "enqueue", fake_enqueue)
    for event_id in ("evt_good", "evt_bad"):
        body = event(event_id, "test.flaky")
        await webhooks.do_record_event(
            webhooks.stripe.Event.construct_from(json.loads(body), None), body
        )
    assert await webhooks.do_drain() == 2
    assert await webhooks.do_drain() == 0
    got = {
        r["stripe_id"]: r["status"]
        for r in await StripeEvent.select(StripeEvent.stripe_id, StripeEvent.status)
    }
    assert got == {"evt_good": "succeeded", "evt_bad": "failed"}
    assert calls == ["evt_good", "evt_bad"]
    assert queued == [("tasks.billing.process_stripe_event", "evt_bad")]


async def test_a_queue_outage_is_503_and_stripes_retry_still_gets_processed(
    client, celery_worker, monkeypatch
):
    from server.jobs import Unavailable, enqueue

    async def down(*_: object) -> None:
        raise Unavailable("The job queue is unavailable, try again shortly")

    body = event("evt_outage")
    monkeypatch.setattr(webhooks, "enqueue", down)
    res = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert res.status_code == 503 and res.json()["error"]["code"] == "unavailable"
    assert await StripeEvent.count() == 1  # stored before the failure: nothing is lost
    monkeypatch.setattr(webhooks, "enqueue", enqueue)
    retry = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert await _wait_status("evt_outage") == "ignored"


def event_with(event_id: str, created: int | None = None, note: str = "") -> bytes:
    body = json.loads(event(event_id))
    if created is not None:
        body["created"] = created
    body["data"]["object"]["description"] = note
    return json.dumps(body).encode()


async def test_events_postgres_cannot_store_as_sent_are_stored_and_never_fail_others(client):
    """A `created` past 2^31 and a NUL in a string arrive among valid events: all 200."""
    bodies = [event_with(f"evt_ok_{i}") for i in range(8)]
    bodies += [event_with("evt_far", created=2**31 + 5), event_with("evt_nul", note="a\u0000b")]
    assert b"\\u0000" in bodies[-1]  # the JSON escape PostgreSQL's jsonb refuses
    answers = await asyncio.gather(
        *(client.post("/webhooks/stripe", content=b, headers=signed(b)) for b in bodies)
    )
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    rows = {r["stripe_id"]: r for r in await StripeEvent.select().output(load_json=True)}
    assert len(rows) == 10
    assert rows["evt_far"]["stripe_created"] == 2**31 + 5
    # The NUL is kept as visible text (escaped), not dropped and not failing the insert.
    assert rows["evt_nul"]["payload"]["data"]["object"]["description"] == "a\\u0000b"
    again = await client.post("/webhooks/stripe", content=bodies[-1], headers=signed(bodies[-1]))
    assert again.status_code == 200 and again.json()["duplicate"] is True


async def test_a_row_the_database_refuses_fails_only_its_own_request(client, monkeypatch):
    import asyncpg

    real = webhooks._insert_many
    statements: list[int] = []

    async def picky(items):  # the database refuses one row's data (a class 22 error)
        statements.append(len(items))
        if any(e.id == "evt_poison" for e, _ in items):
            raise asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape")
        return await real(items)

    monkeypatch.setattr(webhooks, "_insert_many", picky)
    bodies = [event(f"evt_fine_{i}") for i in range(8)] + [event("evt_poison")]
    answers = await asyncio.gather(
        *(client.post("/webhooks/stripe", content=b, headers=signed(b)) for b in bodies)
    )
    assert [a.status_code for a in answers[:8]] == [200] * 8
    assert answers[8].status_code == 400
    assert answers[8].json()["error"]["code"] == "unstorable_event"
    assert await StripeEvent.count() == 8


async def test_a_refused_batch_is_503_for_all_when_the_database_itself_fails(client, monkeypatch):
    async def down(items):
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(webhooks, "_insert_many", down)
    bodies = [event(f"evt_db_down_{i}") for i in range(3)]
    answers = await asyncio.gather(
        *(client.post("/webhooks/stripe", content=b, headers=signed(b)) for b in bodies)
    )
    assert [a.status_code for a in answers] == [503] * 3


@pytest.mark.parametrize("ahead", [301, 3600, 2**31])
async def test_a_signature_timestamp_far_in_the_future_is_400(client, ahead):
    body = event("evt_future")
    res = await client.post(
        "/webhooks/stripe", content=body, headers=signed(body, at=int(time.time()) + ahead)
    )
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_signature"
    assert await StripeEvent.count() == 0


async def test_a_signature_a_little_ahead_of_our_clock_is_accepted(client):
    body = event("evt_skew")
    res = await client.post(
        "/webhooks/stripe", content=body, headers=signed(body, at=int(time.time()) + 30)
    )
    assert res.status_code == 200


@pytest.mark.parametrize(
    "head", [{"type": "x" * 101}, {"id": "evt_" + "x" * 260}, {"id": "evt_\u0000"}]
)
async def test_an_event_head_no_column_can_hold_is_400(client, head):
    body = json.loads(event("evt_head"))
    body.update(head)
    raw = json.dumps(body).encode()
    res = await client.post("/webhooks/stripe", content=raw, headers=signed(raw))
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_payload"
    assert await StripeEvent.count() == 0


async def test_a_failing_event_whose_retry_cannot_be_queued_does_not_stop_the_batch(monkeypatch):
    from server.jobs import Unavailable

    calls: list[str] = []

    async def handler(evt: EventView) -> None:
        calls.append(evt.id)
        if evt.id == "evt_first_bad":
            raise RuntimeError("boom")

    async def queue_down(*_: object) -> None:
        raise Unavailable("The job queue is unavailable, try again shortly")

    monkeypatch.setitem(webhooks.HANDLERS, "test.mixed", handler)
    monkeypatch.setattr(webhooks, "enqueue", queue_down)
    for event_id in ("evt_first_bad", "evt_then_good"):
        body = event(event_id, "test.mixed")
        await webhooks.do_record_event(
            webhooks.stripe.Event.construct_from(json.loads(body), None), body
        )
    await webhooks.do_drain(max_batches=2)
    got = {
        r["stripe_id"]: r["status"]
        for r in await StripeEvent.select(StripeEvent.stripe_id, StripeEvent.status)
    }
    # The good one ran; the bad one, with no queue for its own retry, waits out a lease.
    assert got == {"evt_first_bad": "processing", "evt_then_good": "succeeded"}
    assert calls == ["evt_first_bad", "evt_then_good"]
    await StripeEvent.raw(
        "UPDATE stripe_events SET claimed_at = now() - interval '6 minutes' "
        "WHERE stripe_id = 'evt_first_bad'"
    )
    monkeypatch.setitem(webhooks.HANDLERS, "test.mixed", lambda evt: asyncio.sleep(0))
    await webhooks.do_drain(max_batches=2)
    row = await StripeEvent.select().where(StripeEvent.stripe_id == "evt_first_bad").first()
    assert (row["status"], row["attempts"]) == ("succeeded", 2)


async def test_a_stored_payload_that_does_not_decode_is_marked_failed(monkeypatch):
    async def never(evt: EventView) -> None:
        raise AssertionError("not reached")

    monkeypatch.setitem(webhooks.HANDLERS, "test.undecodable", never)
    body = event("evt_undecodable", "test.undecodable")
    await webhooks.do_record_event(
        webhooks.stripe.Event.construct_from(json.loads(body), None), body
    )
    await StripeEvent.raw(
        "UPDATE stripe_events SET payload = {}::jsonb WHERE stripe_id = 'evt_undecodable'",
        '{"id": 1}',
    )
    with pytest.raises(msgspec.ValidationError):
        await webhooks.do_process_event("evt_undecodable")
    row = await StripeEvent.select().where(StripeEvent.stripe_id == "evt_undecodable").first()
    assert row["status"] == "failed" and "ValidationError" in row["last_error"]
