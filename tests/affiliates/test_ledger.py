"""The ledger itself: balanced, append-only, never below zero (enforced by PostgreSQL), and
its API: my entries with running balances, filters, cursor pages, the owner's CSV export."""

from __future__ import annotations

import csv
import io

import asyncpg
import pytest

from db.uow import atomic
from server.domains.affiliates.actions import ledger
from server.domains.affiliates.actions.commissions import do_sync_invoice
from server.domains.affiliates.actions.ledger import Leg
from server.domains.affiliates.actions.maturation import do_mature_due
from server.domains.affiliates.actions.payouts import do_record_payout
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
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("db")


async def _funded_affiliate(paid_cents: int = 10_000) -> tuple[dict, int]:
    aff = await make_affiliate()
    sale = await make_sale(aff["id"], percent=30)
    inv = await make_invoice(sale["purchase_id"], paid_cents)
    await do_sync_invoice(inv)
    return aff, inv


async def test_entries_and_transactions_cannot_be_changed_or_deleted():
    await _funded_affiliate()
    for statement in (
        "UPDATE ledger_entries SET amount_cents = amount_cents * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET kind = 'payout'",
        "DELETE FROM ledger_transactions",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await q(statement)
    assert len(await q("SELECT id FROM ledger_entries")) == 2


async def test_the_database_rejects_unbalanced_transactions_and_negative_balances():
    aff, _ = await _funded_affiliate()
    with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
        async with atomic():
            tx = await ledger.post("test:direct", "payout", aff["id"], [])
            await q(
                "INSERT INTO ledger_entries (transaction, account, affiliate, amount_cents, "
                "created_at) VALUES ({}, 'available', {}, 5, now())",
                tx,
                aff["id"],
            )
    with pytest.raises(ledger.Unbalanced):
        async with atomic():
            await ledger.post("test:python", "payout", aff["id"], [Leg("available", aff["id"], 1)])
    with pytest.raises(asyncpg.CheckViolationError, match="ledger_balance_sign"):
        async with atomic():  # nothing is available yet: it is all locked
            await ledger.post(
                "test:negative",
                "payout",
                aff["id"],
                [Leg("available", aff["id"], -1), Leg("paid_out", aff["id"], 1)],
            )
    assert await q("SELECT count(*) AS n FROM ledger_transactions") == [{"n": 1}]
    await assert_ledger_invariants()


@pytest.mark.parametrize("account", ["platform_payouts", "bonus"])
async def test_the_database_accepts_only_the_accounts_the_code_posts_to(account):
    aff, _ = await _funded_affiliate()
    owner = None if account.startswith("platform_") else aff["id"]
    with pytest.raises(asyncpg.CheckViolationError, match="ledger_entry_account"):
        async with atomic():
            await ledger.post(
                f"test:{account}",
                "commission",
                aff["id"],
                [Leg("available", aff["id"], 5), Leg(account, owner, -5)],
            )
    assert await q(
        "SELECT count(*) AS n FROM ledger_transactions WHERE idempotency_key LIKE 'test:%'"
    ) == [{"n": 0}]


async def test_a_cause_is_posted_once():
    aff, inv = await _funded_affiliate()
    legs = [Leg("locked", aff["id"], 7), Leg("platform_commissions", None, -7)]
    async with atomic():
        assert await ledger.post(f"commission:{inv}", "commission", aff["id"], legs) is None
        assert await ledger.post("test:once", "commission", aff["id"], legs) is not None
        assert await ledger.post("test:once", "commission", aff["id"], legs) is None
    assert (await ledger.account_balances(aff["id"]))["locked"] == 3_007


async def _history() -> tuple[dict, int]:
    """Commission 3,000 (2,400 + 600); main matures; a payout of 1,000; a 10% refund."""
    aff, inv = await _funded_affiliate()
    await do_mature_due(T0 + days(45))
    await do_record_payout(aff["id"], 1_000, "paypal", "PP-1", "", None)
    await set_invoice(inv, amount_refunded_cents=1_000)
    await do_sync_invoice(inv)
    return aff, inv


async def test_my_ledger_shows_balances_after_each_entry_with_filters_and_pages(make_client, login):
    aff, inv = await _history()
    client = await make_client()
    await login(client, aff["user_row"]["email"])

    page = (await client.get("/api/affiliate/ledger")).json()
    lines = [
        (e["type"], e["account"], e["amount_cents"], e["balance_after_cents"])
        for e in reversed(page["entries"])
    ]
    assert lines == [
        ("commission", "locked", 3_000, 3_000),
        ("maturation", "locked", -2_400, 600),
        ("maturation", "available", 2_400, 2_400),
        ("payout", "available", -1_000, 1_400),
        ("payout", "paid_out", 1_000, 1_000),
        ("clawback", "locked", -300, 300),  # taken from the unmatured extended part first
    ]
    assert page["balances"] == {
        "locked": 300,
        "frozen": 0,
        "available": 1_400,
        "paid_out": 1_000,
        "debt": 0,
        "next_unlock_at": (T0 + days(90)).isoformat().replace("+00:00", "Z"),
    }

    only = (await client.get("/api/affiliate/ledger", params={"type": "maturation"})).json()
    assert [e["balance_after_cents"] for e in only["entries"]] == [2_400, 600]

    first = (await client.get("/api/affiliate/ledger", params={"limit": 4})).json()
    rest = (
        await client.get(
            "/api/affiliate/ledger", params={"limit": 4, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [e["id"] for e in first["entries"] + rest["entries"]] == [
        e["id"] for e in page["entries"]
    ]
    assert rest["next_cursor"] is None

    assert (await client.get("/api/affiliate/ledger", params={"type": "bogus"})).status_code == 400
    other = await make_client()
    await login(other, "not-an-affiliate@example.com")
    res = await other.get("/api/affiliate/ledger")
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_an_affiliate"


async def test_the_owner_reads_any_ledger_and_exports_it_as_csv(make_client, login):
    aff, _ = await _history()
    await make_user(email="boss@weokto.local", role="owner")
    owner = await make_client()
    await login(owner, "boss@weokto.local")

    page = (await owner.get(f"/api/owner/affiliates/{aff['id']}/ledger")).json()
    assert len(page["entries"]) == 6
    res = await owner.get(f"/api/owner/affiliates/{aff['id']}/ledger.csv")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert [(r["type"], r["account"], r["amount_cents"], r["balance_after_cents"]) for r in rows][
        :3
    ] == [
        ("commission", "locked", "3000", "3000"),
        ("maturation", "locked", "-2400", "600"),
        ("maturation", "available", "2400", "2400"),
    ]
    assert (await owner.get("/api/owner/affiliates/999/ledger")).status_code == 404

    nosy = await make_client()
    await login(nosy, aff["user_row"]["email"])
    assert (await nosy.get(f"/api/owner/affiliates/{aff['id']}/ledger.csv")).status_code == 403
