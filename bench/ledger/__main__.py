"""Ledger maturation bench: 100,000 due commissions matured by the set-based statement
(`do_mature_due`) and, on the same data seeded again, by a naive per-row loop.

Run: `.venv/bin/python -m bench.ledger [--commissions 100000] [--affiliates 1000]
[--batch 10000] [--naive-limit 0]`. PostgreSQL from DATABASE_URL when set (its database `weokto_bench_ledger`
is created and wiped), else an embedded server under a temp dir; Redis likewise. A markdown
report goes to stdout, progress to stderr. Both runs must leave identical balances.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DB = "weokto_bench_ledger"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DUE = T0 + timedelta(days=45)  # the main parts (AGE_0_30: 45 days) are due, the extended not


def progress(msg: str) -> None:
    print(f"bench | {msg}", file=sys.stderr, flush=True)


def _bench_url(url: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{BENCH_DB}"


# Set-based seed: affiliates, one plan, purchases, paid invoices, commissions and their ledger
# transactions, as the sync would have written them (30% of 10,000 cents: 2,400 + 600).
SEED = [
    "INSERT INTO users (platform, email, display_name, role, status, created_at) "
    "SELECT 'weokto', 'a' || g || '@bench.local', 'a' || g, 'affiliate', 'active', now() "
    "FROM generate_series(1, $1) g",
    'INSERT INTO affiliate_profiles ("user", slug, risk_level, risk_notes, first_commission_at, '
    "created_at) SELECT id, 'bench-' || id, 'NORMAL', '', $1::timestamptz, now() FROM users",
    "INSERT INTO products (platform, name, description, active, created_at, updated_at) "
    "VALUES ('weokto', 'Bench', '', true, now(), now())",
    "INSERT INTO plans (product, name, price_cents, currency, interval, trial_days, "
    "commission_percent, active, created_at) VALUES (1, 'Monthly', 10000, 'eur', 'MONTHLY', 0, 30, "
    "true, now())",
    'INSERT INTO purchases ("user", product, plan, status, cancel_at_period_end, created_at, '
    "updated_at) SELECT 1 + (g % $1), 1, 1, 'ACTIVE', false, now(), now() "
    "FROM generate_series(1, $2) g",
    "INSERT INTO invoices (stripe_invoice_id, purchase, amount_paid_cents, amount_refunded_cents, "
    "currency, status, paid_at, created_at) SELECT 'in_bench_' || id, id, 10000, 0, 'eur', 'paid', "
    "$1::timestamptz, now() FROM purchases",
    "INSERT INTO commissions (affiliate, invoice, purchase, from_free_product, base_cents, "
    "commission_percent, amount_cents, profile, main_cents, ext_cents, main_unlock_at, "
    "ext_unlock_at, main_locked_cents, ext_locked_cents, matured_cents, clawed_back_cents, status, "
    "created_at, updated_at) SELECT pu.\"user\", i.id, pu.id, false, 10000, 30, 3000, 'AGE_0_30', "
    "2400, 600, $1::timestamptz + interval '45 days', $1::timestamptz + interval '90 days', 2400, "
    "600, 0, 0, 'PENDING_LOCK', $1::timestamptz, now() FROM invoices i JOIN purchases pu ON pu.id = i.purchase",
    "INSERT INTO ledger_transactions (idempotency_key, kind, affiliate, invoice, commission, memo, "
    "created_at) SELECT 'commission:' || invoice, 'commission', affiliate, invoice, id, profile, "
    "now() FROM commissions",
    "INSERT INTO ledger_entries (transaction, account, affiliate, amount_cents, created_at) "
    "SELECT t.id, v.account, CASE WHEN v.account = 'locked' THEN t.affiliate END, v.cents, now() "
    "FROM ledger_transactions t CROSS JOIN (VALUES ('locked', 3000), "
    "('platform_commissions', -3000)) AS v(account, cents)",
]


async def seed(n: int, affiliates: int) -> float:
    from db.piccolo_conf import DB
    from tests.conftest import table_names
    from tests.harness import truncate_tables

    await truncate_tables(os.environ["DATABASE_URL"], table_names())
    started = time.perf_counter()
    pool = DB.pool
    async with pool.acquire() as conn:
        await conn.execute(SEED[0], affiliates)
        await conn.execute(SEED[1], T0)
        await conn.execute(SEED[2])
        await conn.execute(SEED[3])
        await conn.execute(SEED[4], affiliates, n)
        await conn.execute(SEED[5], T0)
        await conn.execute(SEED[6], T0)
        await conn.execute(SEED[7])
        await conn.execute(SEED[8])
        await conn.execute("ANALYZE")
    return time.perf_counter() - started


async def balances_digest() -> list[tuple[int, str, int]]:
    from server.domains.affiliates.actions.ledger import sql

    rows = await sql(
        "SELECT affiliate, account, sum(amount_cents) AS s FROM ledger_entries "
        "WHERE affiliate IS NOT NULL GROUP BY affiliate, account ORDER BY 1, 2"
    )
    return [(r["affiliate"], r["account"], int(r["s"])) for r in rows]


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    from bench.ledger.naive import mature_naively
    from db.engine import close_pool, open_pool
    from realtime import emitter
    from server.domains.affiliates.actions.maturation import BATCH, do_mature_due

    args.batch = args.batch or BATCH  # imported only now: the engine reads DATABASE_URL once
    emitter.set_sender(lambda item: None)  # measure the ledger, not the Socket.IO fan-out
    await open_pool(max_size=4)
    try:
        result: dict[str, float] = {}
        progress(f"seeding {args.commissions} commissions over {args.affiliates} affiliates")
        result["seed_s"] = await seed(args.commissions, args.affiliates)
        progress("set-based maturation")
        started = time.perf_counter()
        run = await do_mature_due(DUE, batch_size=args.batch)
        result["set_s"] = time.perf_counter() - started
        result["set_rows"] = run.commissions
        result["batches"] = run.batches
        set_digest = await balances_digest()

        result["seed2_s"] = await seed(args.commissions, args.affiliates)
        limit = args.naive_limit or args.commissions
        progress(f"naive per-row maturation of {limit} parts")
        if limit < args.commissions:  # time the loop on a prefix only (linear: one tx per row)
            from server.domains.affiliates.actions.ledger import sql

            await sql(
                "UPDATE commissions SET main_unlock_at = main_unlock_at + interval '1 day' "
                "WHERE id > {}",
                limit,
            )
        started = time.perf_counter()
        result["naive_rows"] = await mature_naively(DUE)
        result["naive_s"] = time.perf_counter() - started
        if limit == args.commissions:
            assert await balances_digest() == set_digest, "the two runs disagree"
        return result
    finally:
        emitter.set_sender(None)
        await close_pool()


def report(args: argparse.Namespace, r: dict[str, float]) -> str:
    set_rate = r["set_rows"] / r["set_s"]
    naive_rate = r["naive_rows"] / r["naive_s"]
    naive_full = args.commissions / naive_rate
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: `nproc` = "
            f"{os.cpu_count()}, Python {platform.python_version()}; load average at the end: {load}.",
            f"- {args.commissions} due commissions (main part), {args.affiliates} affiliates, "
            f"batch size {args.batch}; seed {r['seed_s']:.1f} s.",
            "",
            "| run | parts matured | seconds | parts/s |",
            "|---|---|---|---|",
            f"| set-based (`do_mature_due`, {int(r['batches'])} statements) | {int(r['set_rows'])} | "
            f"{r['set_s']:.2f} | {set_rate:,.0f} |",
            f"| naive per-row loop | {int(r['naive_rows'])} | {r['naive_s']:.2f} | {naive_rate:,.0f} |",
            "",
            f"**Ratio (set-based speed / naive speed): {set_rate / naive_rate:.1f}x** "
            f"(naive time for all {args.commissions}: {naive_full:.0f} s"
            + (" measured)" if r["naive_rows"] >= args.commissions else ", extrapolated)"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commissions", type=int, default=100_000)
    parser.add_argument("--affiliates", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=0, help="parts per statement (0: BATCH)")
    parser.add_argument(
        "--naive-limit",
        type=int,
        default=0,
        help="time the naive loop on this many parts only (0: all)",
    )
    args = parser.parse_args()

    from devtools.embedded import resolve_services
    from devtools.procs import ROOT
    from devtools.stack import migrate_argv

    tmp = Path(tempfile.mkdtemp(prefix="weokto-bench-ledger-"))
    environ = dict(os.environ)
    if environ.get("DATABASE_URL"):
        environ["DATABASE_URL"] = _bench_url(environ["DATABASE_URL"])
    services = resolve_services(tmp, environ, db_name=BENCH_DB, persist_redis=False)
    try:
        os.environ.update(
            DATABASE_URL=services.database_url,
            REDIS_URL=services.redis_url,
            APP_ENV="test",
            PICCOLO_CONF="db.piccolo_conf",
        )
        progress("migrating")
        subprocess.run(migrate_argv(), env=os.environ, cwd=ROOT, check=True, capture_output=True)
        result = asyncio.run(main_async(args))
        print(report(args, result))
    finally:
        services.stop()


if __name__ == "__main__":
    main()
