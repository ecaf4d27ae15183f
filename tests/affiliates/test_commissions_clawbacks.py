"""Refunds and disputes: clawbacks from unmatured parts, then available money, then debt
(repaid by later commissions before anything becomes available); freezes while disputed."""

from __future__ import annotations

import pytest

from server.domains.affiliates.actions.commissions import do_sync_invoice
from server.domains.affiliates.actions.maturation import do_mature_due
from server.domains.affiliates.actions.payouts import do_record_payout
from tests.affiliates.ledger_helpers import (
    T0,
    assert_ledger_invariants,
    commission_of,
    days,
    make_affiliate,
    make_invoice,
    make_sale,
    q,
    set_invoice,
    sums,
)

pytestmark = pytest.mark.usefixtures("db")


async def _sold(aff: dict, paid_cents: int = 10_000, at=T0) -> int:
    sale = await make_sale(aff["id"], percent=30)
    inv = await make_invoice(sale["purchase_id"], paid_cents, paid_at=at)
    await do_sync_invoice(inv)
    return inv


async def _sync_twice(inv: int) -> list[str]:
    posted = (await do_sync_invoice(inv)).posted
    assert (await do_sync_invoice(inv)).posted == []  # a replay changes nothing
    return posted


async def test_a_full_refund_before_maturation_takes_it_all_back(captured_events):
    aff = await make_affiliate()
    inv = await _sold(aff)
    await set_invoice(inv, amount_refunded_cents=10_000)
    assert await _sync_twice(inv) == ["clawback"]
    c = await commission_of(inv)
    assert (c["status"], c["clawed_back_cents"], c["main_locked_cents"], c["ext_locked_cents"]) == (
        "CLAWED_BACK",
        3_000,
        0,
        0,
    )
    assert await sums(aff["id"]) == {
        "locked": 0,
        "frozen": 0,
        "available": 0,
        "paid_out": 0,
        "debt": 0,
    }
    assert (await do_mature_due(T0 + days(400))).commissions == 0
    await assert_ledger_invariants()
    assert [e["payload"]["reason"] for e in captured_events] == ["commission", "clawback"]


async def test_partial_refunds_are_proportional_and_reach_available_money_after_the_parts():
    aff = await make_affiliate()
    inv = await _sold(aff)
    await do_mature_due(T0 + days(45))  # main 2,400 available; ext 600 locked
    await set_invoice(inv, amount_refunded_cents=2_500)  # 25% -> 750
    assert await _sync_twice(inv) == ["clawback"]
    assert await sums(aff["id"]) == {
        "locked": 0,
        "frozen": 0,
        "available": 2_250,
        "paid_out": 0,
        "debt": 0,
    }
    await set_invoice(inv, amount_refunded_cents=5_000)  # 50% in all -> 750 more
    assert await _sync_twice(inv) == ["clawback"]
    assert (await sums(aff["id"]))["available"] == 1_500
    keys = [
        r["idempotency_key"]
        for r in await q(
            "SELECT idempotency_key FROM ledger_transactions WHERE kind = 'clawback' ORDER BY id"
        )
    ]
    assert keys == [f"clawback:{inv}:refund:2500", f"clawback:{inv}:refund:5000"]
    assert (await commission_of(inv))["clawed_back_cents"] == 1_500
    await assert_ledger_invariants()


async def test_what_cannot_be_recovered_becomes_debt_repaid_by_later_commissions():
    aff = await make_affiliate()
    inv = await _sold(aff)
    await do_mature_due(T0 + days(90))
    await do_record_payout(aff["id"], 3_000, "bank_transfer", "WIRE-1", "", None)
    await set_invoice(inv, amount_refunded_cents=10_000)
    await _sync_twice(inv)
    assert await sums(aff["id"]) == {
        "locked": 0,
        "frozen": 0,
        "available": 0,
        "paid_out": 3_000,
        "debt": -3_000,
    }

    later = await _sold(aff, paid_cents=20_000, at=T0 + days(100))  # 6,000: 5,640 + 360
    await do_mature_due(T0 + days(130))
    assert await sums(aff["id"]) == {
        "locked": 360,
        "frozen": 0,
        "available": 2_640,
        "paid_out": 3_000,
        "debt": 0,
    }
    entries = await q(
        "SELECT account, amount_cents FROM ledger_entries e JOIN ledger_transactions t "
        "ON t.id = e.transaction WHERE t.idempotency_key = {} ORDER BY e.id",
        f"mature:{(await commission_of(later))['id']}:main",
    )
    assert entries == [
        {"account": "locked", "amount_cents": -5_640},
        {"account": "debt", "amount_cents": 3_000},
        {"account": "available", "amount_cents": 2_640},
    ]
    await assert_ledger_invariants()


async def test_an_open_dispute_freezes_a_won_one_releases_it():
    aff = await make_affiliate()
    inv = await _sold(aff)
    await set_invoice(inv, dispute_status="open")
    assert await _sync_twice(inv) == ["freeze"]
    assert (await commission_of(inv))["status"] == "FROZEN"
    assert (await sums(aff["id"]))["frozen"] == 3_000
    assert (await do_mature_due(T0 + days(400))).commissions == 0  # frozen money waits

    await set_invoice(inv, dispute_status="won")
    assert await _sync_twice(inv) == ["release"]
    assert (await sums(aff["id"]))["locked"] == 3_000
    assert (await do_mature_due(T0 + days(400))).commissions == 1
    assert (await commission_of(inv))["status"] == "MATURED"
    await assert_ledger_invariants()


async def test_a_lost_dispute_claws_back_the_frozen_parts_then_available_then_debt():
    aff = await make_affiliate()
    inv = await _sold(aff)
    other = await _sold(aff, paid_cents=1_000)  # 300 that will be available
    await do_mature_due(T0 + days(45))  # 2,400 + 240 available
    await set_invoice(inv, dispute_status="open")
    await do_sync_invoice(inv)
    assert (await sums(aff["id"]))["frozen"] == 600
    await set_invoice(inv, dispute_status="lost")
    assert await _sync_twice(inv) == ["clawback"]
    assert await sums(aff["id"]) == {
        "locked": 60,
        "frozen": 0,
        "available": 240,
        "paid_out": 0,
        "debt": 0,
    }
    c = await commission_of(inv)
    assert (c["status"], c["clawed_back_cents"]) == ("CLAWED_BACK", 3_000)
    assert (await commission_of(other))["status"] == "PARTIALLY_MATURED"
    await assert_ledger_invariants()


async def test_a_dispute_lost_unseen_while_open_still_claws_back_once():
    aff = await make_affiliate()
    inv = await _sold(aff)
    await set_invoice(inv, dispute_status="lost", amount_refunded_cents=0)
    assert await _sync_twice(inv) == ["clawback"]
    assert (await commission_of(inv))["status"] == "CLAWED_BACK"
    await set_invoice(inv, amount_refunded_cents=10_000)  # a refund after it: nothing left
    assert await _sync_twice(inv) == []
    await assert_ledger_invariants()
