"""The Celery worker SIGKILLed at random points of the billing, ledger and mail tasks.

Rounds of real work go through the whole pipeline (a referred buyer pays: Stripe webhooks,
the drain, the purchase and invoice, the affiliate's commission, the receipt; a new plan: its
Stripe product and price; a renewal of every subscription: new invoices, commissions, receipts)
and the worker is killed at a random moment of each round, then started again. Its unacked
task comes back after the broker's visibility timeout (shortened here). Once everything has
settled, every effect must be there exactly once: one receipt (by Message-ID) per paid invoice,
one commission with balanced ledger entries per paid referred invoice, one Stripe product and
price per catalog row.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from devtools.procs import stop_groups
from devtools.stack import procfile_argv
from tests.affiliates.test_tracking import make_affiliate
from tests.faults.conftest import scaled
from tests.harness import MAIL_KEY, ManagedProcess, Stack
from tests.shop import open_shop

KILLS = int(os.environ.get("WORKER_KILLS") or scaled(10, 100))
BUYERS = scaled(4, 6)  # then renewals, each of every subscription at once
# A killed worker's task comes back after this (an hour in production). It must stay above the
# longest run of a task and the longest retry countdown in play, or a task still running (or
# waiting for its retry) is handed out again and again: long drains at the full scale need 30 s.
VISIBILITY_TIMEOUT_S = scaled(8, 30)
SETTLE_S = scaled(90, 300)
SEED = int(os.environ.get("WORKER_KILL_SEED") or random.randrange(1_000_000))

RECEIVED = re.compile(r"Task (\S+)\[([0-9a-f-]+)\] received")
FINISHED = re.compile(r"Task \S+\[([0-9a-f-]+)\] (?:succeeded|retry|raised)")


# Imported at worker start (celery -I) rather than by the first task after each restart, so a
# kill lands in the work of a task, not in a two-second import.
PRELOAD = (
    "server.domains.billing.actions.webhooks",
    "server.domains.billing.notices",
    "server.domains.affiliates.actions.commissions",
    "server.domains.catalog.actions",
)


class Worker:
    """One Procfile worker on a short visibility timeout, with its own log."""

    def __init__(self, stack: Stack, tmp: Path, n: int, queue: str) -> None:
        env = {**stack.env, "CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S)}
        self.node = f"kill{n}-{os.getpid()}@localhost"
        self.log_path = tmp / f"worker-kill-{n}.log"
        argv = [*procfile_argv("worker", env), "-n", self.node, "-Q", queue]
        self.process = ManagedProcess(
            name=f"worker-kill-{n}",
            argv=[*argv, "-I", ",".join(PRELOAD)],
            env=env,
            log_path=self.log_path,
            ready=lambda: " ready." in self.log(),
        )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def received(self, task: str) -> bool:
        return any(m.group(1) == task for m in RECEIVED.finditer(self.log()))

    def kill(self) -> list[str]:
        """SIGKILL it; the tasks it had taken and not finished (by name)."""
        proc = self.process.proc
        assert proc is not None and proc.poll() is None, self.process.log_tail()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return in_flight(self.log())


class Workers:
    """The worker that runs the tasks, and a spare already started on a queue of its own that
    takes over the task queue the moment the running one is killed (no start-up in a round)."""

    def __init__(self, stack: Stack, tmp: Path) -> None:
        self.stack, self.tmp = stack, tmp
        self.made: list[Worker] = []
        self.active: Worker | None = None
        self.spare: asyncio.Future[Worker] | None = None

    def _start(self, queue: str) -> Worker:
        worker = Worker(self.stack, self.tmp, len(self.made), queue)
        self.made.append(worker)
        worker.process.start()
        return worker

    async def start(self) -> None:
        self.active = await asyncio.to_thread(self._start, "celery")
        self._prepare_spare()

    def _prepare_spare(self) -> None:
        queue = f"standby-{len(self.made)}-{os.getpid()}"
        self.spare = asyncio.ensure_future(asyncio.to_thread(self._start, queue))

    async def kill_and_replace(self) -> list[str]:
        from tasks.app import celery_app

        assert self.active is not None and self.spare is not None
        hit = await asyncio.to_thread(self.active.kill)
        spare = await self.spare  # started during the round; its tasks wait in the queue
        replies = await asyncio.to_thread(
            celery_app.control.add_consumer, "celery", destination=[spare.node], reply=True
        )
        assert replies, f"the spare worker {spare.node} did not answer"
        self.active = spare
        self._prepare_spare()
        return hit

    async def stop(self) -> None:
        if self.spare is not None:
            await asyncio.gather(self.spare, return_exceptions=True)
        procs = [w.process.proc for w in self.made if w.process.proc is not None]
        await asyncio.to_thread(stop_groups, procs, 10)


def in_flight(log: str) -> list[str]:
    received = {m.group(2): m.group(1) for m in RECEIVED.finditer(log)}
    for m in FINISHED.finditer(log):
        received.pop(m.group(1), None)
    return sorted(received.values())


@pytest.fixture
async def workers(stack: Stack, celery_worker: ManagedProcess, tmp_path: Path) -> Any:
    """The session's worker is down during the case; killable ones take its place."""
    made = Workers(stack, tmp_path)
    yield made
    await made.stop()
    celery_worker.start()


@pytest.fixture
async def mails(stack: Stack) -> Any:
    log = MailLog(stack.env["REDIS_URL"])
    log.start()
    yield log
    await log.stop()


# --- the work of one round --------------------------------------------------------------------


async def _referred_buyer(make_client: Any, login: Any, n: int) -> Any:
    buyer = await make_client()
    await buyer.get("/api/affiliate/track?ref=killaff")  # the attribution cookie, then sign in
    await login(buyer, f"kbuyer{n}@example.com")
    return buyer


async def _buy(shop: dict[str, Any], buyer: Any) -> None:
    res = await buyer.post(
        "/api/payments/checkout", json={"buttonKey": shop["button"]["button_key"]}
    )
    assert res.status_code == 200, res.text
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        paid = await emu.post(
            f"/_emulator/checkout/{res.json()['session_id']}/pay",
            json={"card": "4242424242424242"},
        )
        assert paid.status_code == 200, paid.text


async def _new_plan(shop: dict[str, Any], n: int) -> None:
    res = await shop["owner"].post(
        "/api/owner/plans",
        json={
            "product_id": shop["plan"]["product_id"],
            "name": f"Plan {n}",
            "price_cents": 1000 + n,
            "interval": "MONTHLY",
        },
    )
    assert res.status_code in (200, 201), res.text


async def _renew_all(shop: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        res = await emu.post("/_emulator/advance", json={"days": 31})
        assert res.status_code == 200, res.text


# --- what must hold once it has settled -------------------------------------------------------


async def _fetch(conn: asyncpg.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(sql)]


async def _stripe_list(base: str, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    headers = {"Authorization": "Bearer sk_test_local_emulator"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as api:
        after = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["starting_after"] = after
            page = (await api.get(path, params=params)).json()
            out.extend(page["data"])
            if not page.get("has_more"):
                return out
            after = page["data"][-1]["id"]


class MailLog:
    """Every mail the catcher caught during the case. The catcher keeps only its newest 500,
    so the list is read twice a second and each catch (its JSON, with its own time) kept."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.seen: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def read(self) -> list[dict[str, Any]]:
        client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            self.seen.update(await client.lrange(MAIL_KEY, 0, -1))
        finally:
            await client.aclose()
        return [json.loads(raw) for raw in self.seen]

    async def _follow(self) -> None:
        while True:
            await self.read()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _queue_state(redis_url: str) -> dict[str, int]:
    """Tasks waiting, taken by a worker and not acked, and whether kombu's restore mutex is held
    (a worker killed inside a restore sweep leaves it until it expires)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return {
            "queued": int(await client.llen("celery")),
            "taken": int(await client.hlen("unacked")),
            "restore_mutex": int(await client.exists("unacked_mutex")),
        }
    finally:
        await client.aclose()


async def _tally(stack: Stack, emulator: str, mails: MailLog) -> dict[str, Any]:
    """Lost and duplicated effects, as of now."""
    from server.domains.mail.render import stable_message_id

    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        paid = await _fetch(
            conn,
            "SELECT i.id, i.purchase, a.id IS NOT NULL AS referred, "
            "(SELECT count(*) FROM commissions c WHERE c.invoice = i.id) AS commissions "
            "FROM invoices i LEFT JOIN purchase_attributions a ON a.purchase = i.purchase "
            "WHERE i.status = 'paid'",
        )
        unbalanced = await _fetch(
            conn,
            "SELECT t.idempotency_key, count(e.id) AS entries, COALESCE(sum(e.amount_cents), 0) "
            "AS total FROM ledger_transactions t LEFT JOIN ledger_entries e "
            "ON e.transaction = t.id GROUP BY t.id HAVING count(e.id) < 2 "
            "OR COALESCE(sum(e.amount_cents), 0) <> 0",
        )
        commission_txs = await _fetch(
            conn,
            "SELECT invoice, count(*) AS n FROM ledger_transactions WHERE kind = 'commission' "
            "GROUP BY invoice",
        )
        plans = await _fetch(conn, "SELECT id, stripe_price_id FROM plans")
        products = await _fetch(conn, "SELECT id, stripe_product_id FROM products")
        events = await _fetch(conn, "SELECT status, count(*) AS n FROM stripe_events GROUP BY 1")
    finally:
        await conn.close()
    copies = Counter(
        m.get("message_id", "") for m in await mails.read()
    )  # every catch, by Message-ID
    wanted = {stable_message_id("receipt", str(inv["id"])) for inv in paid}
    receipt_ids = {m for m in copies if m.startswith("<receipt.")}
    prices = Counter(
        p["metadata"].get("plan_id") for p in await _stripe_list(emulator, "/v1/prices")
    )
    made = Counter(
        p["metadata"].get("product_id") for p in await _stripe_list(emulator, "/v1/products")
    )
    per_invoice_tx = {r["invoice"]: r["n"] for r in commission_txs}
    referred = [inv for inv in paid if inv["referred"]]
    return {
        "paid_invoices": len(paid),
        # A receipt is one Message-ID (stable per invoice): none is lost, none is a second
        # receipt for an invoice (another Message-ID) ...
        "receipts_lost": len(wanted - receipt_ids),
        "receipts_duplicated": len(receipt_ids - wanted),
        # ... and a copy caught twice under the same Message-ID (a kill between the SMTP
        # server's acceptance and the claim's commit) is reported: the receiving side drops it.
        "receipt_resent_copies": sum(copies[m] - 1 for m in receipt_ids),
        "commissions_lost": sum(1 for inv in referred if inv["commissions"] == 0),
        "commissions_duplicated": sum(1 for inv in referred if inv["commissions"] > 1)
        + sum(1 for n in per_invoice_tx.values() if n > 1),
        "ledger_unbalanced": len(unbalanced),
        "stripe_prices_lost": sum(1 for p in plans if not p["stripe_price_id"]),
        "stripe_prices_duplicated": sum(1 for p in plans if prices.get(str(p["id"]), 0) > 1),
        "stripe_products_lost": sum(1 for p in products if not p["stripe_product_id"]),
        "stripe_products_duplicated": sum(1 for p in products if made.get(str(p["id"]), 0) > 1),
        "events": {e["status"]: e["n"] for e in events},
        "referred_invoices": len(referred),
    }


def _settled(t: dict[str, Any]) -> bool:
    lost = [k for k in t if k.endswith("_lost") and t[k]]
    pending = set(t["events"]) - {"succeeded", "ignored"}
    return not lost and not pending


async def _until_settled(
    stack: Stack, emulator: str, mails: MailLog, timeout: float
) -> tuple[dict[str, Any], bool]:
    deadline = time.monotonic() + timeout
    while True:
        tally = await _tally(stack, emulator, mails)
        queue = await _queue_state(stack.env["REDIS_URL"])
        quiet = queue["queued"] == 0 and queue["taken"] == 0
        if (_settled(tally) and quiet) or time.monotonic() > deadline:
            return {**tally, "queue": queue}, quiet
        await asyncio.sleep(1.0)


# --- the case ---------------------------------------------------------------------------------


# Each round aims its kill at one task, in turn: the billing drain, the ledger sync, the receipt
# mail, the catalog sync. The round does the work that queues that task (a purchase while
# buyers are left, then a renewal of every subscription; a new plan for the catalog) and the
# kill lands a random time after the task starts, within its typical run seen so far.
TARGETS = (
    "tasks.billing.drain_stripe_events",
    "tasks.ledger.sync_invoice",
    "tasks.mail.send_receipt",
    "tasks.billing.sync_catalog",
)
TARGET_WAIT_S = 8.0
SUCCEEDED = re.compile(r"Task (\S+)\[[0-9a-f-]+\] succeeded in ([0-9.]+)s")


def _typical_runs(workers: Workers) -> dict[str, float]:
    """The median run of each task so far (a kill within it lands inside most runs)."""
    runs: dict[str, list[float]] = {}
    for worker in workers.made:
        for m in SUCCEEDED.finditer(worker.log()):
            runs.setdefault(m.group(1), []).append(float(m.group(2)))
    return {name: statistics.median(times) for name, times in runs.items()}


async def _aim(workers: Workers, target: str, rng: random.Random) -> bool:
    """Wait until the running worker takes a `target` task, then a random part of its run."""
    worker = workers.active
    assert worker is not None
    before = sum(1 for m in RECEIVED.finditer(worker.log()) if m.group(1) == target)
    deadline = time.monotonic() + TARGET_WAIT_S
    while time.monotonic() < deadline:
        now = sum(1 for m in RECEIVED.finditer(worker.log()) if m.group(1) == target)
        if now > before:
            typical = min(_typical_runs(workers).get(target, 0.2), 2.0)
            await asyncio.sleep(rng.uniform(0, max(typical, 0.02)))
            return True
        await asyncio.sleep(0.01)
    return False


async def test_worker_killed_at_random_points_loses_and_doubles_nothing(
    make_client,
    login,
    stripe_emulator,
    live_server,
    mailcatcher,
    celery_worker,
    workers,
    mails,
    stack,
    figures,
):
    rng = random.Random(SEED)
    t0 = time.monotonic()
    shop = await open_shop(make_client, login, stripe_emulator, price_cents=2500)
    await make_affiliate("killaff")
    buyers = [await _referred_buyer(make_client, login, n) for n in range(BUYERS)]
    await _until_settled(stack, shop["emulator"], mails, 60)  # the shop's catalog is in Stripe
    # The session's worker did the sign-in mails and the shop's catalog; now killable ones.
    await asyncio.to_thread(celery_worker.stop)
    await workers.start()
    killed_in: Counter[str] = Counter()
    missed = 0
    started = time.monotonic()
    setup_s = started - t0
    bought = plans = renewals = 0
    for n in range(KILLS):
        target = TARGETS[n % len(TARGETS)]
        kind = "plan" if target.endswith("sync_catalog") else "buy"
        if kind == "buy" and bought >= len(buyers):
            kind = "renew"  # every buyer has paid: renew them all
        if kind == "buy":
            await _buy(shop, buyers[bought])
            bought += 1
        elif kind == "plan":
            await _new_plan(shop, n)
            plans += 1
        else:
            await _renew_all(shop)
            renewals += 1
        if not await _aim(workers, target, rng):
            missed += 1  # the task ran before the spare was ready, or not at all: kill anyway
        hit = await workers.kill_and_replace()
        killed_in.update(hit or ["(idle)"])
    kills_done_s = time.monotonic() - started

    tally, quiet = await _until_settled(stack, shop["emulator"], mails, SETTLE_S)
    settle_s = time.monotonic() - started - kills_done_s

    figures.record(
        seed=SEED,
        kills=KILLS,
        kills_off_target=missed,
        killed_in=dict(sorted(killed_in.items())),
        rounds={"buy": bought, "plan": plans, "renew": renewals},
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        setup_s=round(setup_s, 1),
        kill_rounds_s=round(kills_done_s, 1),
        settled_after_s=round(settle_s, 1),
        **tally,
        bound="0 lost, 0 duplicated (receipts by distinct Message-ID, commissions and ledger, "
        "Stripe objects per catalog row)",
    )
    assert quiet, "tasks still queued or taken after the settle time"
    bad = {
        k: v for k, v in tally.items() if k.endswith(("_lost", "_duplicated", "_unbalanced")) and v
    }
    assert not bad, (bad, tally, SEED)
    assert set(tally["events"]) <= {"succeeded", "ignored"}, tally["events"]
    assert tally["paid_invoices"] >= bought and tally["referred_invoices"] >= bought
