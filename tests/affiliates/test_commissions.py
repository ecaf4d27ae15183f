"""Commissions from paid invoices: amount, split and lock profile, exactly once per invoice."""

from __future__ import annotations

import pytest

from server.domains.affiliates.actions.commissions import (
    commission_cents,
    do_sync_invoice,
    lock_profile_for,
    refund_clawback_target,
    split,
)
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


@pytest.mark.parametrize(
    ("risk", "age", "expected"),
    [
        ("NORMAL", 0, ("AGE_0_30", 45, 80, 90)),
        ("NORMAL", 30, ("AGE_0_30", 45, 80, 90)),
        ("NORMAL", 31, ("AGE_31_60", 40, 85, 60)),
        ("NORMAL", 60, ("AGE_31_60", 40, 85, 60)),
        ("NORMAL", 61, ("AGE_61_90", 35, 90, 40)),
        ("NORMAL", 90, ("AGE_61_90", 35, 90, 40)),
        ("NORMAL", 91, ("AGE_91_PLUS", 30, 94, 40)),
        ("AT_RISK", 400, ("AT_RISK", 60, 80, 90)),
        ("HIGH_RISK", 0, ("HIGH_RISK", 90, 70, 120)),
        ("EXTREME_RISK", 95, ("EXTREME_RISK", 90, 60, 180)),
    ],
)
def test_the_lock_profile_follows_age_unless_risk_overrides(risk, age, expected):
    p = lock_profile_for(risk, age)
    assert (p.name, p.main_days, p.main_share, p.ext_days) == expected


def test_cents_round_down_and_parts_always_sum():
    assert commission_cents(999, 33) == 329  # 329.67 -> 329
    for amount in (0, 1, 7, 329, 10_001):
        for share in (60, 70, 80, 85, 90, 94):
            main, ext = split(amount, share)
            assert main + ext == amount and main == amount * share // 100
    assert split(329, 94) == (309, 20)
    assert refund_clawback_target(300, 1_000, 1_000) == 300
    assert refund_clawback_target(300, 333, 1_000) == 99


async def test_a_paid_invoice_makes_one_commission_and_replays_change_nothing(captured_events):
    aff = await make_affiliate()
    sale = await make_sale(aff["id"], percent=30)
    inv = await make_invoice(sale["purchase_id"], 9_999)

    first = await do_sync_invoice(inv)
    again = await do_sync_invoice(inv)

    assert first.posted == ["commission"] and again.posted == []
    c = await commission_of(inv)
    assert (c["amount_cents"], c["main_cents"], c["ext_cents"]) == (2_999, 2_399, 600)
    assert (c["profile"], c["status"], c["from_free_product"]) == (
        "AGE_0_30",
        "PENDING_LOCK",
        False,
    )
    assert c["main_unlock_at"] == T0 + days(45) and c["ext_unlock_at"] == T0 + days(90)
    assert (await sums(aff["id"]))["locked"] == 2_999
    txs = await q("SELECT idempotency_key, kind FROM ledger_transactions")
    assert txs == [{"idempotency_key": f"commission:{inv}", "kind": "commission"}]
    profile = (
        await q("SELECT first_commission_at FROM affiliate_profiles WHERE id = {}", aff["id"])
    )[0]
    assert profile["first_commission_at"] == T0
    await assert_ledger_invariants()
    assert captured_events == [
        {
            "room": f"user:{aff['user']}",
            "event": "affiliate_update",
            "payload": {
                "affiliate_id": aff["id"],
                "reason": "commission",
                "type": "affiliate_update",
            },
        }
    ]


async def test_each_renewal_is_its_own_commission_with_the_profile_of_its_day():
    aff = await make_affiliate()
    sale = await make_sale(aff["id"], percent=50, source="free_product")
    invoices = [
        await make_invoice(sale["purchase_id"], 1_000, paid_at=T0 + days(d))
        for d in (0, 40, 70, 120)
    ]
    for inv in invoices:
        await do_sync_invoice(inv)
    rows = [await commission_of(inv) for inv in invoices]
    assert [r["profile"] for r in rows] == ["AGE_0_30", "AGE_31_60", "AGE_61_90", "AGE_91_PLUS"]
    assert [(r["main_cents"], r["ext_cents"]) for r in rows] == [
        (400, 100),
        (425, 75),
        (450, 50),
        (470, 30),
    ]
    assert all(r["from_free_product"] for r in rows)
    assert (await sums(aff["id"]))["locked"] == 2_000
    await assert_ledger_invariants()


async def test_a_risky_affiliate_locks_longer_and_unattributed_or_unpaid_invoices_earn_nothing():
    aff = await make_affiliate(risk_level="EXTREME_RISK", first_commission_at=T0 - days(200))
    sale = await make_sale(aff["id"], percent=20)
    inv = await make_invoice(sale["purchase_id"], 10_000)
    await do_sync_invoice(inv)
    c = await commission_of(inv)
    assert (c["profile"], c["main_cents"], c["ext_cents"]) == ("EXTREME_RISK", 1_200, 800)
    assert c["ext_unlock_at"] == T0 + days(180)

    stranger = await make_sale(None)
    assert (await do_sync_invoice(await make_invoice(stranger["purchase_id"], 5_000))).posted == []
    open_inv = await make_invoice(sale["purchase_id"], 0, status="open")
    assert (await do_sync_invoice(open_inv)).posted == []
    assert await q("SELECT count(*) AS n FROM commissions") == [{"n": 1}]


async def test_concurrent_syncs_of_one_invoice_post_one_commission():
    import asyncio

    aff = await make_affiliate()
    sale = await make_sale(aff["id"])
    inv = await make_invoice(sale["purchase_id"], 4_000)
    results = await asyncio.gather(*(do_sync_invoice(inv) for _ in range(5)))
    assert sorted(len(r.posted) for r in results) == [0, 0, 0, 0, 1]
    assert (await sums(aff["id"]))["locked"] == 1_200
    await assert_ledger_invariants()


async def test_the_worker_syncs_an_enqueued_invoice_and_the_stats_cache_is_dropped(celery_worker):
    from core.redis import get_redis
    from server.domains.affiliates.events import stats_cache_key
    from server.jobs import enqueue
    from tests.fixtures import until

    aff = await make_affiliate()
    sale = await make_sale(aff["id"], percent=25)
    inv = await make_invoice(sale["purchase_id"], 8_000)
    await get_redis().set(stats_cache_key(aff["id"]), '{"stale": true}')

    await enqueue("tasks.ledger.sync_invoice", inv)  # what billing does after each invoice write
    c = await until(lambda: commission_of(inv))
    assert c["amount_cents"] == 2_000
    assert await until(lambda: _gone(stats_cache_key(aff["id"])))
    await enqueue("tasks.ledger.sync_invoice", inv)  # redelivered: still one commission
    await enqueue("tasks.ledger.mature_due")
    await until(lambda: _count_tasks_done())
    keys = await q("SELECT idempotency_key FROM ledger_transactions ORDER BY id")
    # Paid on T0, long past: the beat's task matured both parts, once.
    assert [k["idempotency_key"] for k in keys] == [
        f"commission:{inv}",
        f"mature:{c['id']}:main",
        f"mature:{c['id']}:ext",
    ]


async def _gone(key: str) -> bool | None:
    from core.redis import get_redis

    return True if not await get_redis().exists(key) else None


async def _count_tasks_done() -> bool | None:
    """Both tasks ran (the task-outcome counters the worker keeps in Redis)."""
    from core.redis import get_redis
    from server.domains.ops.metrics import TASKS_KEY

    counts = await get_redis().hgetall(TASKS_KEY)
    done = int(counts.get("tasks.ledger.sync_invoice|success", 0))
    matured = int(counts.get("tasks.ledger.mature_due|success", 0))
    return True if done >= 2 and matured >= 1 else None


async def test_an_invoice_in_another_currency_earns_no_commission_and_is_not_drift():
    """Balances are kept in one currency: USD cents added to EUR cents would be wrong money."""
    from server.domains.affiliates.actions.commissions import do_catch_up

    aff = await make_affiliate()
    sale = await make_sale(aff["id"])  # a plan with a commission (made before the catalog rule)
    inv = await make_invoice(sale["purchase_id"], 10_000, currency="usd")
    assert (await do_sync_invoice(inv)).posted == []
    assert await commission_of(inv) is None
    assert await do_catch_up() == 0  # not picked up again and again as a missing commission
    eur = await make_invoice(sale["purchase_id"], 10_000)
    assert (await do_sync_invoice(eur)).posted == ["commission"]
    await assert_ledger_invariants()


async def test_the_catch_up_sync_finds_invoices_whose_effects_are_missing():
    from server.domains.affiliates.actions.commissions import do_catch_up, do_sync_purchase
    from tests.affiliates.ledger_helpers import set_invoice

    aff = await make_affiliate()
    late = await make_sale(None)  # the invoice is synced before its attribution exists
    inv = await make_invoice(late["purchase_id"], 10_000)
    assert (await do_sync_invoice(inv)).posted == []
    await q(
        "INSERT INTO purchase_attributions (purchase, affiliate, source, created_at) "
        "VALUES ({}, {}, 'link', now())",
        late["purchase_id"],
        aff["id"],
    )
    assert await do_catch_up() == 1
    assert (await commission_of(inv))["amount_cents"] == 3_000
    assert await do_catch_up() == 0
    assert await do_sync_purchase(late["purchase_id"]) == 1  # what attribution enqueues
    assert len(await q("SELECT id FROM commissions")) == 1

    await set_invoice(inv, amount_refunded_cents=3_333, dispute_status="open")
    assert await do_catch_up() == 1
    c = await commission_of(inv)
    assert (c["clawed_back_cents"], c["status"]) == (999, "FROZEN")
    assert await do_catch_up() == 0
    await assert_ledger_invariants()
