"""Maturation: due parts become available in one set-based pass, debt first, exactly once."""

from __future__ import annotations

import asyncio

import pytest

from server.domains.affiliates.actions.commissions import do_sync_invoice
from server.domains.affiliates.actions.maturation import do_mature_due
from tests.affiliates.ledger_helpers import (
    T0,
    assert_ledger_invariants,
    commission_of,
    days,
    make_affiliate,
    make_invoice,
    make_sale,
    q,
    sums,
)

pytestmark = pytest.mark.usefixtures("db")


async def _commission(aff: dict, paid_cents: int = 10_000, at=T0) -> int:
    sale = await make_sale(aff["id"], percent=30)
    inv = await make_invoice(sale["purchase_id"], paid_cents, paid_at=at)
    await do_sync_invoice(inv)
    return inv


async def test_main_then_extended_part_matures_on_its_date(captured_events):
    aff = await make_affiliate()
    inv = await _commission(aff)

    assert (await do_mature_due(T0 + days(44))).commissions == 0
    run = await do_mature_due(T0 + days(45))
    assert (run.commissions, run.affiliates) == (1, 1)
    c = await commission_of(inv)
    assert (c["status"], c["main_locked_cents"], c["matured_cents"]) == (
        "PARTIALLY_MATURED",
        0,
        2_400,
    )
    assert await sums(aff["id"]) == {
        "locked": 600,
        "frozen": 0,
        "available": 2_400,
        "paid_out": 0,
        "debt": 0,
    }

    await do_mature_due(T0 + days(90))
    c = await commission_of(inv)
    assert (c["status"], c["matured_cents"]) == ("MATURED", 3_000)
    assert (await sums(aff["id"]))["available"] == 3_000
    keys = [
        r["idempotency_key"]
        for r in await q(
            "SELECT idempotency_key FROM ledger_transactions WHERE kind = 'maturation' ORDER BY id"
        )
    ]
    assert keys == [f"mature:{c['id']}:main", f"mature:{c['id']}:ext"]
    await assert_ledger_invariants()
    reasons = [
        e["payload"]["reason"]
        for e in captured_events
        if e["event"] == "affiliate_update" and e["room"] == f"user:{aff['user']}"
    ]
    assert reasons == ["commission", "maturation", "maturation"]


async def test_both_parts_due_at_once_and_replays_do_nothing():
    aff = await make_affiliate()
    inv = await _commission(aff)
    run = await do_mature_due(T0 + days(400))
    assert run.commissions == 1
    assert (await do_mature_due(T0 + days(400))).commissions == 0
    assert (await commission_of(inv))["status"] == "MATURED"
    assert (await sums(aff["id"]))["available"] == 3_000
    await assert_ledger_invariants()


async def test_many_affiliates_in_small_batches_and_two_runs_at_once():
    affiliates = [await make_affiliate() for _ in range(4)]
    for aff in affiliates:
        for d in range(5):
            await _commission(aff, paid_cents=1_000 * (d + 1), at=T0 + days(d))
    runs = await asyncio.gather(
        do_mature_due(T0 + days(300), batch_size=3), do_mature_due(T0 + days(300), batch_size=3)
    )
    assert sum(r.commissions for r in runs) == 20
    for aff in affiliates:
        assert (await sums(aff["id"]))["available"] == 300 * 15
    assert await q("SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'maturation'") == [
        {"n": 40}
    ]
    await assert_ledger_invariants()


async def test_the_beat_runs_the_maturation_task():
    from tasks.app import celery_app

    entry = [
        e for e in celery_app.conf.beat_schedule.values() if e["task"] == "tasks.ledger.mature_due"
    ]
    assert len(entry) == 1
    assert "tasks.ledger" in celery_app.conf.include
