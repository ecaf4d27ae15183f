"""Payouts and withdrawals: up to the available balance, one winner under concurrency,
commissions marked PAID oldest first; the owner's payable list and audited risk edits."""

from __future__ import annotations

import asyncio

import pytest

from server.domains.affiliates.actions.commissions import do_sync_invoice
from server.domains.affiliates.actions.maturation import do_mature_due
from server.domains.affiliates.actions.payouts import InsufficientBalance, do_record_payout
from server.domains.affiliates.schemas import PayoutRecord
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
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("db")


async def _earned(aff: dict, amounts: list[int]) -> list[int]:
    """Commissions of 30% on each amount, a day apart, all matured."""
    invoices = []
    for i, paid in enumerate(amounts):
        sale = await make_sale(aff["id"], percent=30)
        inv = await make_invoice(sale["purchase_id"], paid, paid_at=T0 + days(i))
        await do_sync_invoice(inv)
        invoices.append(inv)
    await do_mature_due(T0 + days(400))
    return invoices


@pytest.fixture
async def owner(make_client, login):
    await make_user(email="owner@weokto.local", role="owner")
    client = await make_client()
    await login(client, "owner@weokto.local")
    return client


async def test_the_owner_records_payouts_up_to_the_available_balance(owner, captured_events):
    aff = await make_affiliate()
    first, second = await _earned(aff, [10_000, 10_000])  # 3,000 + 3,000
    payable = (await owner.get("/api/owner/affiliates/payable")).json()
    assert [(p["affiliate_id"], p["balances"]["available"]) for p in payable] == [
        (aff["id"], 6_000)
    ]

    res = await owner.post(
        "/api/owner/affiliate-payouts/",
        json={
            "affiliate_id": aff["id"],
            "amount_cents": 4_000,
            "method": "bank_transfer",
            "reference": "WIRE-42",
            "notes": "March",
        },
    )
    assert res.status_code == 201, res.text
    assert (res.json()["amount_cents"], res.json()["method"]) == (4_000, "bank_transfer")
    assert (await sums(aff["id"]))["available"] == 2_000
    # Oldest first: the first commission is covered, the second only in part.
    assert (await commission_of(first))["status"] == "PAID"
    assert (await commission_of(second))["status"] == "MATURED"

    res = await owner.post(
        "/api/owner/affiliate-payouts/",
        json={"affiliate_id": aff["id"], "amount_cents": 2_001, "method": "paypal"},
    )
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "insufficient_balance"
    assert res.json()["error"]["details"] == {"available_cents": 2_000, "amount_cents": 2_001}
    bad = await owner.post(
        "/api/owner/affiliate-payouts/",
        json={"affiliate_id": aff["id"], "amount_cents": -5, "method": "cash"},
    )
    assert bad.status_code == 400
    await do_record_payout(aff["id"], 2_000, "stripe", "", "", None)
    assert (await commission_of(second))["status"] == "PAID"
    assert [e["payload"] for e in captured_events if e["payload"]["reason"] == "payout"] == [
        {"affiliate_id": aff["id"], "reason": "payout", "type": "affiliate_update"}
    ] * 2
    await assert_ledger_invariants()


async def test_concurrent_payouts_against_one_balance_exactly_one_wins():
    aff = await make_affiliate()
    await _earned(aff, [10_000])
    results = await asyncio.gather(
        *(do_record_payout(aff["id"], 2_000, "paypal", f"P-{i}", "", None) for i in range(6)),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, PayoutRecord)]
    losses = [r for r in results if isinstance(r, InsufficientBalance)]
    assert (len(wins), len(losses)) == (1, 5)
    assert losses[0].status_code == 409 and losses[0].code == "insufficient_balance"
    assert (await sums(aff["id"]))["available"] == 1_000
    await assert_ledger_invariants()


async def test_withdrawal_requests_are_completed_or_rejected_by_the_owner(
    owner, make_client, login, captured_events
):
    aff = await make_affiliate()
    await _earned(aff, [10_000])
    me = await make_client()
    await login(me, aff["user_row"]["email"])

    too_much = await me.post(
        "/api/affiliate/withdrawals", json={"amount_cents": 3_001, "method": "paypal"}
    )
    assert (
        too_much.status_code == 409 and too_much.json()["error"]["code"] == "insufficient_balance"
    )
    asked = await me.post(
        "/api/affiliate/withdrawals",
        json={"amount_cents": 1_200, "method": "paypal", "details": "me@paypal.example"},
    )
    assert asked.status_code == 201, asked.text
    again = await me.post(
        "/api/affiliate/withdrawals", json={"amount_cents": 10, "method": "paypal"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "withdrawal_pending"

    pending = (await owner.get("/api/owner/withdrawals/", params={"status": "pending"})).json()
    assert [w["id"] for w in pending] == [asked.json()["id"]]
    done = await owner.post(
        f"/api/owner/withdrawals/{asked.json()['id']}/complete", json={"reference": "PP-77"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["payout_id"] is not None
    assert (await sums(aff["id"]))["paid_out"] == 1_200
    twice = await owner.post(f"/api/owner/withdrawals/{asked.json()['id']}/complete", json={})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "withdrawal_decided"

    second = (
        await me.post("/api/affiliate/withdrawals", json={"amount_cents": 500, "method": "stripe"})
    ).json()
    rejected = await owner.post(
        f"/api/owner/withdrawals/{second['id']}/reject", json={"note": "Verify your account first"}
    )
    assert rejected.json()["status"] == "rejected" and rejected.json()["decided_at"] is not None
    assert rejected.json()["decision_note"] == "Verify your account first"
    assert (await sums(aff["id"]))["available"] == 1_800
    mine = (await me.get("/api/affiliate/withdrawals")).json()
    assert [w["status"] for w in mine] == ["rejected", "completed"]
    reasons = [
        e["payload"]["reason"] for e in captured_events if e["room"] == f"user:{aff['user']}"
    ]
    assert reasons[-4:] == ["withdrawal", "payout", "withdrawal", "withdrawal"]
    await assert_ledger_invariants()


async def test_risk_edits_are_audited_and_decide_later_lock_profiles(
    owner, make_client, login, captured_events
):
    aff = await make_affiliate()
    res = await owner.patch(
        f"/api/owner/affiliates/{aff['id']}/risk",
        json={"risk_level": "HIGH_RISK", "notes": "Chargebacks from one network"},
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["risk_level"], body["risk_notes"]) == ("HIGH_RISK", "Chargebacks from one network")
    assert [(h["old_level"], h["new_level"]) for h in body["history"]] == [("NORMAL", "HIGH_RISK")]
    assert captured_events[-1]["payload"]["reason"] == "risk"

    sale = await make_sale(aff["id"], percent=10)
    inv = await make_invoice(sale["purchase_id"], 10_000)
    await do_sync_invoice(inv)
    c = await commission_of(inv)
    assert (c["profile"], c["main_cents"], c["ext_cents"]) == ("HIGH_RISK", 700, 300)

    bad = await owner.patch(f"/api/owner/affiliates/{aff['id']}/risk", json={"risk_level": "MEH"})
    assert bad.status_code == 400
    me = await make_client()
    await login(me, aff["user_row"]["email"])
    assert (
        await me.patch(f"/api/owner/affiliates/{aff['id']}/risk", json={"risk_level": "NORMAL"})
    ).status_code == 403
    assert len(await q("SELECT id FROM affiliate_risk_changes")) == 1
