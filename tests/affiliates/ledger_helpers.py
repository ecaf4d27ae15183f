"""Test helpers for the affiliate ledger: affiliates, attributed sales, invoices, invariants."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from db.affiliates.tables import LedgerEntry
from tests.factories import make_user

_n = itertools.count(1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def q(query: str, *args: Any) -> list[dict[str, Any]]:
    return await LedgerEntry.raw(query, *args)


async def make_affiliate(
    risk_level: str = "NORMAL",
    first_commission_at: datetime | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    from server.domains.affiliates.actions import do_ensure_profile

    user = await make_user(email=email, role="affiliate")
    profile = await do_ensure_profile(user["id"], f"aff-{next(_n)}")
    await q(
        "UPDATE affiliate_profiles SET risk_level = {}, first_commission_at = {} WHERE id = {}",
        risk_level,
        first_commission_at,
        profile.id,
    )
    return {
        **msgspec.to_builtins(profile),
        "created_at": profile.created_at,
        "risk_level": risk_level,
        "first_commission_at": first_commission_at,
        "user_row": user,
    }


async def make_sale(
    affiliate_id: int | None, percent: int = 30, source: str = "link", price_cents: int = 10_000
) -> dict[str, Any]:
    """A customer's purchase of a plan, attributed to the affiliate (unless None)."""
    n = next(_n)
    customer = await make_user(email=f"customer{n}@example.com")
    product = (
        await q(
            "INSERT INTO products (platform, name, description, active, created_at, "
            "updated_at) VALUES ('weokto', {}, '', true, now(), now()) RETURNING id",
            f"Product {n}",
        )
    )[0]
    plan = (
        await q(
            "INSERT INTO plans (product, name, price_cents, currency, interval, trial_days, "
            "commission_percent, active, created_at) VALUES ({}, 'Monthly', {}, 'eur', "
            "'MONTHLY', 0, {}, true, now()) RETURNING id",
            product["id"],
            price_cents,
            percent,
        )
    )[0]
    purchase = (
        await q(
            'INSERT INTO purchases ("user", product, plan, status, '
            "cancel_at_period_end, created_at, updated_at) VALUES ({}, {}, {}, "
            "'ACTIVE', false, now(), now()) RETURNING id",
            customer["id"],
            product["id"],
            plan["id"],
        )
    )[0]
    if affiliate_id is not None:
        await q(
            "INSERT INTO purchase_attributions (purchase, affiliate, source, created_at) "
            "VALUES ({}, {}, {}, now())",
            purchase["id"],
            affiliate_id,
            source,
        )
    return {"purchase_id": purchase["id"], "plan_id": plan["id"], "customer": customer}


async def make_invoice(
    purchase_id: int,
    amount_cents: int,
    paid_at: datetime = T0,
    status: str = "paid",
    currency: str = "eur",
) -> int:
    rows = await q(
        "INSERT INTO invoices (stripe_invoice_id, purchase, amount_paid_cents, "
        "amount_refunded_cents, currency, status, paid_at, created_at) VALUES "
        "({}, {}, {}, 0, {}, {}, {}, now()) RETURNING id",
        f"in_test_{next(_n)}",
        purchase_id,
        amount_cents,
        currency,
        status,
        paid_at,
    )
    return rows[0]["id"]


async def set_invoice(invoice_id: int, **values: Any) -> None:
    for column, value in values.items():
        await q(f"UPDATE invoices SET {column} = {{}} WHERE id = {{}}", value, invoice_id)


async def commission_of(invoice_id: int) -> dict[str, Any] | None:
    rows = await q("SELECT * FROM commissions WHERE invoice = {}", invoice_id)
    return rows[0] if rows else None


async def sums(affiliate_id: int) -> dict[str, int]:
    from server.domains.affiliates.actions.ledger import account_balances

    return await account_balances(affiliate_id)


async def assert_ledger_invariants() -> None:
    """Every transaction sums to zero; affiliate accounts keep their signs; commissions agree
    with the ledger; at most one commission per invoice."""
    unbalanced = await q(
        "SELECT transaction, sum(amount_cents) AS s FROM ledger_entries "
        "GROUP BY transaction HAVING sum(amount_cents) <> 0"
    )
    assert unbalanced == [], unbalanced
    bad_sign = await q(
        "SELECT affiliate, account, sum(amount_cents) AS s FROM ledger_entries "
        "WHERE affiliate IS NOT NULL GROUP BY affiliate, account "
        "HAVING (account = 'debt' AND sum(amount_cents) > 0) "
        "OR (account <> 'debt' AND sum(amount_cents) < 0)"
    )
    assert bad_sign == [], bad_sign
    cache = await q(
        "SELECT * FROM (SELECT affiliate, account, sum(amount_cents) AS s FROM ledger_entries "
        "WHERE affiliate IS NOT NULL GROUP BY affiliate, account) e FULL JOIN ledger_balances b "
        "USING (affiliate, account) WHERE b.balance_cents IS DISTINCT FROM e.s"
    )
    assert cache == [], cache  # the cached balances are the sums of the entries
    total = await q("SELECT COALESCE(sum(amount_cents), 0) AS s FROM ledger_entries")
    assert total[0]["s"] == 0
    # What is still locked or frozen equals the unmatured parts of the commissions.
    drift = await q(
        "SELECT c.affiliate, c.held, COALESCE(e.held, 0) AS ledger FROM "
        "(SELECT affiliate, sum(main_locked_cents + ext_locked_cents) AS held FROM commissions "
        " GROUP BY affiliate) c LEFT JOIN (SELECT affiliate, sum(amount_cents) AS held "
        " FROM ledger_entries WHERE account IN ('locked', 'frozen') GROUP BY affiliate) e "
        "USING (affiliate) WHERE c.held <> COALESCE(e.held, 0)"
    )
    assert drift == [], drift
    dup = await q("SELECT invoice FROM commissions GROUP BY invoice HAVING count(*) > 1")
    assert dup == []


def days(n: int) -> timedelta:
    return timedelta(days=n)
