"""A webhook drain (or per-event task) killed mid-batch and redelivered with the same Celery task
id takes its own claims back at once; other tasks still wait out the lease."""

from __future__ import annotations

import json

import pytest

from db.billing.tables import StripeEvent
from server.domains.billing.actions import webhooks
from server.integrations.stripe import EventView
from tests.billing.test_webhooks import event


@pytest.fixture
def handled(monkeypatch) -> list[str]:
    seen: list[str] = []

    async def ok(evt: EventView) -> None:
        seen.append(evt.id)

    monkeypatch.setitem(webhooks.HANDLERS, "test.ok", ok)
    return seen


async def _claimed(stripe_id: str, by: str) -> None:
    """Stored, then claimed a moment ago by task `by` whose worker died."""
    body = event(stripe_id, "test.ok")
    await webhooks.do_record_event(
        webhooks.stripe.Event.construct_from(json.loads(body), None), body
    )
    await StripeEvent.raw(
        "UPDATE stripe_events SET status = 'processing', claimed_at = now(), claimed_by = {} "
        "WHERE stripe_id = {}",
        by,
        stripe_id,
    )


async def _status(stripe_id: str) -> str:
    row = await StripeEvent.select(StripeEvent.status).where(StripeEvent.stripe_id == stripe_id)
    return str(row[0]["status"])


async def test_the_redelivered_drain_resumes_its_claims_and_no_other_task_does(handled):
    await _claimed("evt_k1", by="drain-task-a")
    await _claimed("evt_k2", by="drain-task-a")
    assert await webhooks.do_drain(claimer="drain-task-b") == 0  # the lease still holds
    assert handled == []
    assert await webhooks.do_drain(claimer="drain-task-a") == 2  # the same task, redelivered
    assert handled == ["evt_k1", "evt_k2"]
    assert [await _status("evt_k1"), await _status("evt_k2")] == ["succeeded", "succeeded"]


async def test_the_redelivered_event_task_resumes_its_claim(handled):
    await _claimed("evt_k3", by="event-task-a")
    assert await webhooks.do_process_event("evt_k3", claimer="event-task-b") == "skipped"
    assert await webhooks.do_process_event("evt_k3", claimer="event-task-a") == "succeeded"
    assert handled == ["evt_k3"]


async def test_a_claim_without_a_task_id_waits_out_the_lease(handled):
    await _claimed("evt_k4", by="")
    assert await webhooks.do_process_event("evt_k4") == "skipped"
    assert await webhooks.do_drain() == 0
    assert handled == []
