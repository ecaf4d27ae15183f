"""Pooled query cost with asyncpg's default reset on release against the project's `keep_session`.

Run: `.venv/bin/python -m bench.dbpool [--queries 4000] [--reps 5]`. PostgreSQL from DATABASE_URL
when set (nothing is written: the queries are `SELECT`s of constants), else an embedded server
under a temp dir. Each rep runs the same workloads on two pools side by side (the order alternates
between reps): a single caller (one query after another, as one request does) and 32 callers on
a pool of 8 (a reconnect storm). Each query acquires a connection, runs, and releases it, as
Piccolo does for every query outside a transaction. Markdown to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from db.engine import keep_session

POOL_SIZE = 8
CALLERS = 32
QUERY = "SELECT $1::int + 1"


def progress(text: str) -> None:
    print(f"[dbpool {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def one_query(pool: asyncpg.Pool, n: int) -> None:
    async with pool.acquire() as connection:
        await connection.fetch(QUERY, n)


async def serial(pool: asyncpg.Pool, queries: int) -> None:
    for n in range(queries):
        await one_query(pool, n)


async def concurrent(pool: asyncpg.Pool, queries: int) -> None:
    async def caller(offset: int) -> None:
        for n in range(offset, queries, CALLERS):
            await one_query(pool, n)

    await asyncio.gather(*(caller(i) for i in range(CALLERS)))


async def timed(
    work: Callable[[asyncpg.Pool, int], Awaitable[None]], pool: asyncpg.Pool, queries: int
) -> float:
    started = time.perf_counter()
    await work(pool, queries)
    return queries / (time.perf_counter() - started)


async def run(url: str, queries: int, reps: int) -> dict[str, dict[str, list[float]]]:
    pools = {
        "asyncpg default reset": await asyncpg.create_pool(
            url, min_size=POOL_SIZE, max_size=POOL_SIZE
        ),
        "keep_session": await asyncpg.create_pool(
            url, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=keep_session
        ),
    }
    results: dict[str, dict[str, list[float]]] = {
        w: {name: [] for name in pools} for w in ("1 caller", f"{CALLERS} callers")
    }
    try:
        for pool in pools.values():  # warm: connections open, statements prepared
            await concurrent(pool, CALLERS * 20)
        for rep in range(reps):
            order = list(pools.items()) if rep % 2 == 0 else list(pools.items())[::-1]
            for name, pool in order:
                results["1 caller"][name].append(await timed(serial, pool, queries))
                results[f"{CALLERS} callers"][name].append(await timed(concurrent, pool, queries))
            progress(f"rep {rep + 1}/{reps} done")
    finally:
        for pool in pools.values():
            await pool.close()
    return results


def report(results: dict[str, dict[str, list[float]]], queries: int, reps: int) -> str:
    lines = [
        f"{queries:,} queries per workload and pool, {reps} reps, pool of {POOL_SIZE}; "
        "median queries/s (min–max); the ratio is taken within each rep, then the median.",
        "",
        "| workload | asyncpg default reset | keep_session | keep_session ÷ default |",
        "|---|---|---|---|",
    ]
    for workload, by_pool in results.items():
        base, ours = by_pool["asyncpg default reset"], by_pool["keep_session"]
        ratios = [o / b for o, b in zip(ours, base)]
        lines.append(
            f"| {workload} | {_cell(base)} | {_cell(ours)} | {statistics.median(ratios):.2f}x |"
        )
    return "\n".join(lines)


def _cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    from devtools.embedded import resolve_services

    # This bench needs no Redis: a placeholder URL keeps resolve_services from starting one.
    environ: dict[str, Any] = {"REDIS_URL": "redis://unused"}
    if os.environ.get("DATABASE_URL"):
        environ["DATABASE_URL"] = os.environ["DATABASE_URL"]
    services = resolve_services(
        Path(tempfile.mkdtemp(prefix="weokto-bench-dbpool-")),
        environ,
        db_name="weokto_bench_dbpool",
        persist_redis=False,
        create_database=False,
    )
    try:
        results = asyncio.run(run(services.database_url, args.queries, args.reps))
        print(report(results, args.queries, args.reps))
    finally:
        services.stop()


if __name__ == "__main__":
    main()
