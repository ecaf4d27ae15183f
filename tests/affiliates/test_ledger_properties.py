"""Property-based run over random histories of purchases, renewals, refunds, disputes,
maturations and payouts: after every step the ledger balances, matches the commissions,
never lets available money go negative, and a replay of the step changes nothing."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from db.uow import atomic
from server.domains.affiliates.actions import ledger
from server.domains.affiliates.actions.commissions import do_sync_invoice
from server.domains.affiliates.actions.maturation import do_mature_due
from server.domains.affiliates.actions.payouts import InsufficientBalance, do_record_payout
from tests.affiliates.ledger_helpers import (
    T0,
    assert_ledger_invariants,
    days,
    make_affiliate,
    make_invoice,
    make_sale,
    q,
    set_invoice,
)

pytestmark = pytest.mark.usefixtures("db")

AFFILIATES = 2
pick = st.integers(min_value=0, max_value=10**6)  # an index, taken modulo what exists

steps = st.one_of(  # Hypothesis favours earlier branches: the order keeps histories rich
    st.tuples(
        st.just("purchase"),
        pick,
        st.integers(100, 50_000),
        st.integers(1, 90),
        st.sampled_from(["link", "free_product"]),
    ),
    st.tuples(st.just("advance"), st.integers(5, 120)),
    st.tuples(st.just("payout"), pick, st.integers(1, 100)),
    st.tuples(st.just("refund"), pick, st.integers(1, 100)),
    st.tuples(st.just("dispute"), pick, st.sampled_from(["open", "won", "lost"])),
    st.tuples(st.just("renewal"), pick, st.integers(100, 50_000)),
    st.tuples(
        st.just("mature"),
    ),
)


class World:
    """What the random history has created so far, and the simulated clock."""

    def __init__(self, affiliates: list[dict[str, Any]]) -> None:
        self.affiliates = affiliates
        self.sales: list[dict[str, Any]] = []
        self.invoices: list[int] = []
        self.now: datetime = T0

    async def apply(self, step: tuple) -> Any:
        kind = step[0]
        if kind == "purchase":
            aff = self.affiliates[step[1] % len(self.affiliates)]
            self.sales.append(await make_sale(aff["id"], percent=step[3], source=step[4]))
            return await self._invoice(self.sales[-1]["purchase_id"], step[2])
        if kind == "renewal" and self.sales:
            return await self._invoice(
                self.sales[step[1] % len(self.sales)]["purchase_id"], step[2]
            )
        if kind == "refund" and self.invoices:
            return await self._refund(self.invoices[step[1] % len(self.invoices)], step[2])
        if kind == "dispute" and self.invoices:
            return await self._dispute(self.invoices[step[1] % len(self.invoices)], step[2])
        if kind == "advance":  # time passes and the beat matures what came due
            self.now += days(step[1])
            return ("mature", self.now)
        if kind == "mature":
            return ("mature", self.now)
        if kind == "payout":
            return await self._payout(self.affiliates[step[1] % len(self.affiliates)], step[2])
        return None

    async def _invoice(self, purchase_id: int, cents: int) -> tuple:
        self.invoices.append(await make_invoice(purchase_id, cents, paid_at=self.now))
        return ("sync", self.invoices[-1])

    async def _refund(self, invoice_id: int, percent: int) -> tuple:
        row = (await q("SELECT * FROM invoices WHERE id = {}", invoice_id))[0]
        total = max(row["amount_refunded_cents"], row["amount_paid_cents"] * percent // 100)
        await set_invoice(invoice_id, amount_refunded_cents=total)
        return ("sync", invoice_id)

    async def _dispute(self, invoice_id: int, outcome: str) -> tuple | None:
        row = (await q("SELECT dispute_status FROM invoices WHERE id = {}", invoice_id))[0]
        allowed = {None: ("open", "lost"), "open": ("won", "lost")}.get(row["dispute_status"], ())
        if outcome not in allowed:
            return None
        await set_invoice(invoice_id, dispute_status=outcome)
        return ("sync", invoice_id)

    async def _payout(self, aff: dict[str, Any], percent: int) -> tuple | None:
        available = (await ledger.account_balances(aff["id"]))[ledger.AVAILABLE]
        with pytest.raises(InsufficientBalance):
            await do_record_payout(aff["id"], available + 1, "paypal", "", "", None)
        amount = available * percent // 100
        if amount <= 0:
            return None
        payout = await do_record_payout(aff["id"], amount, "bank_transfer", "", "", None)
        return ("payout", payout)


async def run_effect(effect: tuple) -> None:
    """Do (again) what a step asked of the system: a sync, a maturation, a payout posting."""
    if effect[0] == "sync":
        await do_sync_invoice(effect[1])
    elif effect[0] == "mature":
        await do_mature_due(effect[1], batch_size=7)
    elif effect[0] == "payout":
        p = effect[1]
        async with atomic():  # the payout's transaction, posted again under its key
            again = await ledger.post(
                f"payout:{p.id}",
                "payout",
                p.affiliate_id,
                [
                    ledger.Leg("available", p.affiliate_id, -p.amount_cents),
                    ledger.Leg("paid_out", p.affiliate_id, p.amount_cents),
                ],
                payout_id=p.id,
            )
        assert again is None


async def snapshot() -> tuple:
    entries = await q(
        "SELECT count(*) AS n, COALESCE(sum(abs(amount_cents)), 0) AS v FROM ledger_entries"
    )
    txs = await q("SELECT count(*) AS n FROM ledger_transactions")
    commissions = await q(
        "SELECT id, status, main_locked_cents, ext_locked_cents, matured_cents, "
        "clawed_back_cents FROM commissions ORDER BY id"
    )
    return entries[0]["n"], entries[0]["v"], txs[0]["n"], commissions


async def check_world() -> None:
    await assert_ledger_invariants()
    # Each paid, attributed invoice has exactly one commission and one commission transaction.
    missing = await q(
        "SELECT i.id FROM invoices i JOIN purchase_attributions pa ON pa.purchase = i.purchase "
        "WHERE i.status = 'paid' AND i.amount_paid_cents > 0 AND (SELECT count(*) FROM "
        "ledger_transactions t WHERE t.idempotency_key = 'commission:' || i.id) <> 1"
    )
    assert missing == []
    # An affiliate's accounts add up to what they earned net of clawbacks; paid_out to payouts.
    drift = await q(
        "SELECT p.id FROM affiliate_profiles p WHERE "
        "(SELECT COALESCE(sum(amount_cents), 0) FROM ledger_entries WHERE affiliate = p.id) <> "
        "(SELECT COALESCE(sum(amount_cents - clawed_back_cents), 0) FROM commissions "
        " WHERE affiliate = p.id) OR "
        "(SELECT COALESCE(sum(amount_cents), 0) FROM ledger_entries WHERE affiliate = p.id "
        " AND account = 'paid_out') <> "
        "(SELECT COALESCE(sum(amount_cents), 0) FROM affiliate_payouts WHERE affiliate = p.id)"
    )
    assert drift == []


async def _fresh_world() -> World:
    from tests.conftest import table_names
    from tests.harness import truncate_tables

    await truncate_tables(os.environ["DATABASE_URL"], table_names())
    return World([await make_affiliate() for _ in range(AFFILIATES)])


@settings(
    max_examples=int(os.environ.get("LEDGER_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(steps, min_size=1, max_size=30))
@example(
    history=[  # paid out, then refunded in full (debt), repaid by a renewal; a dispute
        ("purchase", 0, 10_000, 30, "link"),
        ("advance", 100),
        ("payout", 0, 100),
        ("refund", 0, 100),
        ("renewal", 0, 20_000),
        ("dispute", 1, "open"),
        ("advance", 50),
        ("dispute", 1, "lost"),
        ("advance", 60),
        ("payout", 0, 50),
        ("mature",),
    ]
)
async def test_random_histories_keep_the_ledger_true(history):
    world = await _fresh_world()
    for step in history:
        effect = await world.apply(step)
        if effect is None:
            continue
        event(f"step: {step[0]}")  # --hypothesis-show-statistics shows what histories exercised
        await run_effect(effect)
        await check_world()
        before = await snapshot()
        await run_effect(effect)  # a replay (a redelivered task, a second beat) changes nothing
        assert await snapshot() == before, step
