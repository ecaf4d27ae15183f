"""Stripe webhook bench: what `POST /webhooks/stripe` accepts and one Celery worker processes.

Run: `.venv/bin/python -m bench.webhooks [--seconds 10] [--concurrency 32]`. A markdown report
goes to stdout, progress to stderr. Embedded PostgreSQL and Redis run under a temp dir (the
caller's DATABASE_URL / REDIS_URL are ignored), with the Procfile's `web` and `worker` lines, all
on core 0; this process (the load generator: raw asyncio HTTP/1.1 keep-alive connections) on
core 1. Phases:

1. `GET /healthz` (a no-op route through the same middleware): the ceiling of the web process.
2. signed `bench.ping` events (unique ids), worker stopped: events/s accepted (HTTP 200).
3. worker started on the backlog of phase 2: events/s processed (claimed -> 'ignored').
4. live pipeline, worker idle and running: a burst of new events, time from the first send
   until every row has left 'received'/'processing'.
5. duplicates: phase 2 ids sent again (fresh signatures) must answer 200 `"duplicate": true`.

Every phase is bounded (seconds, request cap, drain timeout); every process started here is
stopped at the end, leftovers are killed and reported, and the temp dir is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.fanout.__main__ import (
    BenchError,
    Proc,
    become_subreaper,
    busy_between,
    core_busy,
    cpu_of,
    pin_tree,
    spawn,
    sweep,
    wait_for,
)
from devtools.embedded import Services, resolve_services
from devtools.procs import ROOT, free_port, http_status, tail
from devtools.stack import migrate_argv, procfile_argv, stack_env

SERVER_CORE, GEN_CORE = 0, 1
SECRET = "whsec_bench"
EVENT_TYPE = (
    "bench.ping"  # no handler: processing ends in 'ignored' (the pipeline, not business logic)
)
BENCH_DB = "weokto_bench_webhooks"
MAX_REQUESTS = 50_000
WARMUP_S = 1.0
DRAIN_TIMEOUT = 180.0
DUPLICATES = 200


def progress(msg: str) -> None:
    print(f"bench | {msg}", file=sys.stderr, flush=True)


# --- signing ----------------------------------------------------------------------------------


def event_body(event_id: str, now: int) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": EVENT_TYPE,
            "api_version": "2024-06-20",
            "created": now,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": {"id": f"bench_{event_id}", "object": "bench", "note": "x" * 64}},
        },
        separators=(",", ":"),
    ).encode()


def sign(body: bytes, secret: str = SECRET, now: int | None = None) -> str:
    """Exactly what Stripe sends: `t=<unix>,v1=<hex hmac-sha256(secret, "<t>." + body)>`."""
    t = int(time.time()) if now is None else now
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def webhook_request(event_id: str) -> bytes:
    now = int(time.time())
    body = event_body(event_id, now)
    head = (
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Stripe/1.0 (bench)\r\n"
        f"Content-Type: application/json; charset=utf-8\r\nStripe-Signature: {sign(body, now=now)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"


# --- the load generator -----------------------------------------------------------------------


@dataclass
class Load:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    duplicates: int = 0  # 200 answers saying "duplicate": true
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes
) -> tuple[int, bytes]:
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "transfer-encoding":
            raise BenchError("chunked responses are not supported by this client")
    body = await reader.readexactly(length or 0)
    return status, body


async def load(
    port: int,
    make: Callable[[int], bytes],
    concurrency: int,
    seconds: float,
    cap: int,
    record: bool = True,
) -> Load:
    """Closed loop: `concurrency` keep-alive connections, each sends its next request on the answer."""
    out = Load()
    counter = itertools.count()
    deadline = time.monotonic() + seconds

    async def conn() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= cap:
                    return
                req = make(i)
                t0 = time.perf_counter()
                status, body = await _exchange(reader, writer, req)
                dt = time.perf_counter() - t0
                out.requests += 1
                out.statuses[status] = out.statuses.get(status, 0) + 1
                if record:
                    out.latencies.append(dt)
                if status == 200 and b'"duplicate":true' in body:
                    out.duplicates += 1
                elif status != 200 and len(out.errors) < 3:
                    out.errors.append(f"{status} {body[:200]!r}")
        finally:
            writer.close()

    started = time.monotonic()
    results = await asyncio.gather(*(conn() for _ in range(concurrency)), return_exceptions=True)
    out.elapsed = time.monotonic() - started
    for r in results:
        if isinstance(r, BaseException) and len(out.errors) < 5:
            out.errors.append(repr(r))
    return out


# --- the stack --------------------------------------------------------------------------------


@dataclass
class Stack:
    work: Path
    services: Services
    env: dict[str, str]
    port: int
    backing: list[int]
    web: Proc | None = None
    worker: Proc | None = None


def start_stack(work: Path) -> Stack:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    services = resolve_services(work / "svc", base, db_name=BENCH_DB, persist_redis=False)
    backing = []
    for svc in services.started:
        pid = getattr(svc, "pid", None) or getattr(getattr(svc, "process", None), "pid", None)
        if pid:
            pin_tree(pid, SERVER_CORE)
            backing.append(pid)
    port = free_port()
    env = stack_env(base, services, port=port, smtp_port=free_port(), app_env="production")
    env.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        STRIPE_WEBHOOK_SECRET=SECRET,
        LOG_JSON="1",
        DATA_DIR=str(work / "data"),
        STRIPE_API_BASE="http://127.0.0.1:9",
        STRIPE_API_KEY="sk_test_bench",
    )
    (work / "data").mkdir()
    result = subprocess.run(
        migrate_argv(), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise BenchError(f"migrations failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return Stack(work, services, env, port, backing)


def start_web(stack: Stack) -> None:
    stack.web = spawn(
        "web", procfile_argv("web", stack.env), stack.env, stack.work / "web.log", SERVER_CORE
    )
    wait_for(lambda: http_status(f"http://127.0.0.1:{stack.port}/healthz") == 200, stack.web, "web")


def start_worker(stack: Stack) -> float:
    """Spawn the Procfile's worker; returns the monotonic spawn time."""
    spawned = time.monotonic()
    stack.worker = spawn(
        "worker",
        procfile_argv("worker", stack.env),
        stack.env,
        stack.work / "worker.log",
        SERVER_CORE,
    )
    return spawned


async def pending(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM stripe_events WHERE status IN ('received', 'processing')"
    )


async def wait_drained(conn: asyncpg.Connection, stack: Stack, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pending(conn) == 0:
            return True
        assert stack.worker is not None
        if not stack.worker.alive():
            raise BenchError(f"worker exited; log:\n{tail(stack.worker.log, 30)}")
        await asyncio.sleep(0.1)
    return False


def profiler(
    stack: Stack, target: Proc, label: str, args: argparse.Namespace, seconds: float | None = None
) -> Proc | None:
    """With --profile: py-spy (raw collapsed stacks, 100 Hz) on `target`, from the generator core."""
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    argv = [
        str(ROOT / ".venv" / "bin" / "py-spy"),
        "record",
        "--pid",
        str(target.popen.pid),
        "--duration",
        str(int(seconds or args.seconds)),
        "--rate",
        "100",
        "--format",
        "raw",
        "-o",
        str(args.profile / f"{label}.txt"),
    ]
    return spawn("py-spy", argv, os.environ, stack.work / "py-spy.log", GEN_CORE)


def finish(spy: Proc | None) -> None:
    if spy is not None:
        try:
            spy.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.stop()


# --- phases -----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    load: Load
    web_cpu: float  # CPU-seconds per second of the web process
    core0: float  # busy fraction of the server core
    core1: float  # busy fraction of the generator core
    gen_cpu: float  # CPU-seconds per second of this process (the generator)


async def measured(
    stack: Stack, name: str, make: Callable[[int], bytes], args: argparse.Namespace
) -> Phase:
    assert stack.web is not None
    await load(stack.port, make, args.concurrency, WARMUP_S, MAX_REQUESTS, record=False)
    pids = [stack.web.popen.pid]
    c0, k0, g0 = cpu_of(pids), core_busy(), cpu_of([os.getpid()])
    spy = profiler(stack, stack.web, f"web-{name}", args) if name == "webhook" else None
    result = await load(stack.port, make, args.concurrency, args.seconds, MAX_REQUESTS)
    c1, k1, g1 = cpu_of(pids), core_busy(), cpu_of([os.getpid()])
    finish(spy)
    busy = busy_between(k0, k1)
    phase = Phase(
        name,
        result,
        (c1 - c0) / result.elapsed,
        busy[SERVER_CORE],
        busy[GEN_CORE],
        (g1 - g0) / result.elapsed,
    )
    progress(
        f"{name}: {result.ok / result.elapsed:,.0f}/s ok, statuses {result.statuses}, "
        f"p50 {result.pct(0.5):.1f} ms p99 {result.pct(0.99):.1f} ms, web cpu {phase.web_cpu:.2f}"
        + (f", errors {result.errors}" if result.errors else "")
    )
    if not stack.web.alive():
        raise BenchError(f"web died during {name}; log:\n{tail(stack.web.log, 30)}")
    return phase


async def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    run_id = secrets.token_hex(4)
    out: dict[str, Any] = {"phases": []}
    conn = await asyncpg.connect(stack.services.database_url)
    try:
        ids: list[str] = []

        def accept_req(i: int) -> bytes:
            event_id = f"evt_bench_{run_id}_a{i}"
            ids.append(event_id)
            return webhook_request(event_id)

        warm_ids = itertools.count()
        for rep in range(args.reps):
            progress(f"rep {rep + 1}: healthz")
            out["phases"].append(await measured(stack, "healthz", lambda i: HEALTHZ, args))
            progress(f"rep {rep + 1}: webhooks (worker stopped)")
            # `measured` warms up with the same maker: those events are real too (counted in the DB).
            out["phases"].append(
                await measured(stack, "webhook", lambda i: accept_req(next(warm_ids)), args)
            )

        backlog = await pending(conn)
        stored = await conn.fetchval("SELECT count(*) FROM stripe_events")
        out["backlog"] = backlog
        out["sent_unique"] = len(ids)
        out["stored"] = stored

        # 3. drain the backlog with one worker (--pool=solo, the Procfile line).
        progress(f"worker: draining a backlog of {backlog:,} events")
        t_spawn_wall = time.time()
        spawned = start_worker(stack)
        assert stack.worker is not None
        await asyncio.sleep(2.0)  # past the worker's boot
        spy = profiler(
            stack, stack.worker, "worker-drain", args, seconds=min(args.seconds, backlog / 150)
        )
        drained = await wait_drained(conn, stack, DRAIN_TIMEOUT)
        finish(spy)
        wall = time.monotonic() - spawned
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'ignored') AS ignored,"
            " count(*) FILTER (WHERE status NOT IN ('ignored', 'received', 'processing')) AS other,"
            " extract(epoch FROM min(claimed_at)) AS first_claim, extract(epoch FROM max(processed_at)) AS last_done"
            " FROM stripe_events"
        )
        ignored = row["ignored"]
        span = float(row["last_done"] - row["first_claim"]) if ignored else float("nan")
        out["drain"] = {
            "drained": drained,
            "ignored": ignored,
            "other": row["other"],
            "wall_s": wall,
            "boot_s": float(row["first_claim"]) - t_spawn_wall if ignored else float("nan"),
            "span_s": span,
            "rate": (ignored - 1) / span if ignored > 1 and span > 0 else float("nan"),
        }
        progress(f"drain: {out['drain']}")
        if not drained:
            raise BenchError(
                f"backlog not drained after {DRAIN_TIMEOUT:.0f}s; worker log:\n"
                f"{tail(stack.worker.log, 20)}"
            )  # type: ignore[union-attr]

        # 4. live pipeline: the worker is up and idle; a burst sized to last about --seconds.
        # Whichever is slower, accepting or draining, sets the pace of the live pipeline.
        accept_rate = statistics.median(
            p.load.ok / p.load.elapsed for p in out["phases"] if p.name == "webhook"
        )
        pace = min(out["drain"]["rate"], accept_rate)
        burst = int(min(MAX_REQUESTS, max(500, pace * args.seconds)))
        progress(f"live: a burst of {burst:,} events, worker running")
        t_first = time.time()
        live = await load(
            stack.port,
            lambda i: webhook_request(f"evt_bench_{run_id}_l{i}"),
            args.concurrency,
            DRAIN_TIMEOUT,
            burst,
        )
        drained = await wait_drained(conn, stack, DRAIN_TIMEOUT)
        last = await conn.fetchval(
            "SELECT extract(epoch FROM max(processed_at)) FROM stripe_events WHERE stripe_id LIKE $1",
            f"evt_bench_{run_id}_l%",
        )
        live_ignored = await conn.fetchval(
            "SELECT count(*) FROM stripe_events WHERE stripe_id LIKE $1 AND status = 'ignored'",
            f"evt_bench_{run_id}_l%",
        )
        total = float(last) - t_first if last is not None else float("nan")
        out["live"] = {
            "sent": burst,
            "ok": live.ok,
            "send_s": live.elapsed,
            "accept_rate": live.ok / live.elapsed,
            "p50": live.pct(0.5),
            "p99": live.pct(0.99),
            "ignored": live_ignored,
            "drained": drained,
            "total_s": total,
            "rate": live_ignored / total if total > 0 else float("nan"),
            "errors": live.errors,
        }
        progress(f"live: {out['live']}")

        # 5. duplicates: the first phase-2 ids again, freshly signed.
        before = await conn.fetchval("SELECT count(*) FROM stripe_events")
        dups = await load(
            stack.port,
            lambda i: webhook_request(ids[i]),
            args.concurrency,
            30.0,
            min(DUPLICATES, len(ids)),
        )
        await asyncio.sleep(1.0)
        after = await conn.fetchval("SELECT count(*) FROM stripe_events")
        requeued = await pending(conn)
        out["dups"] = {
            "sent": dups.requests,
            "ok": dups.ok,
            "duplicate_true": dups.duplicates,
            "new_rows": after - before,
            "pending_after": requeued,
            "errors": dups.errors,
        }
        progress(f"duplicates: {out['dups']}")
    finally:
        await conn.close()
    return out


# --- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def markdown(
    res: dict[str, Any], args: argparse.Namespace, host: dict[str, str], command: str
) -> str:
    by: dict[str, list[Phase]] = {}
    for p in res["phases"]:
        by.setdefault(p.name, []).append(p)

    def rate(p: Phase) -> float:
        return p.load.ok / p.load.elapsed

    def med(name: str, fn: Callable[[Phase], float]) -> float:
        return statistics.median(fn(p) for p in by[name])

    hz, wh = med("healthz", rate), med("webhook", rate)
    rows = [
        f"| measure (c={args.concurrency}, {args.seconds:g} s phases) | value | p50 | p99 | web CPU | core 0 / core 1 busy | generator CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("healthz", "`GET /healthz` (peer: same app, no-op route)"),
        ("webhook", "`POST /webhooks/stripe` accepted, worker stopped"),
    ):
        for p in by[name]:
            rows.append(
                f"| {label} | {rate(p):,.0f} req/s ({p.load.ok:,} × 200 in {p.load.elapsed:.1f} s) "
                f"| {p.load.pct(0.5):.1f} ms | {p.load.pct(0.99):.1f} ms | {p.web_cpu:.2f} "
                f"| {p.core0:.0%} / {p.core1:.0%} | {p.gen_cpu:.2f} |"
            )
    d, lv, dp = res["drain"], res["live"], res["dups"]
    rows.append(f"| ratio webhook ÷ healthz | **{wh / hz:.2f}×** | | | | | |")
    rows.append(
        f"| worker (`--pool=solo`) drains the backlog of {res['backlog']:,} | **{d['rate']:,.0f} events/s** "
        f"(first claim → last done {d['span_s']:.1f} s; spawn → drained {d['wall_s']:.1f} s, "
        f"boot {d['boot_s']:.1f} s) | | | | | |"
    )
    rows.append(
        f"| live pipeline, worker running: {lv['sent']:,} events, first send → all 'ignored' "
        f"| **{lv['rate']:,.0f} events/s** ({lv['total_s']:.1f} s; accepted at {lv['accept_rate']:,.0f}/s "
        f"in {lv['send_s']:.1f} s) | {lv['p50']:.1f} ms | {lv['p99']:.1f} ms | | | |"
    )
    rows.append(
        f"| duplicates (same id again, fresh signature) | {dp['ok']}/{dp['sent']} × 200, "
        f'{dp["duplicate_true"]} say `"duplicate": true`; {dp["new_rows"]} new rows, '
        f"{dp['pending_after']} re-queued | | | | | |"
    )
    notes = [
        "",
        f"`{command}` — {res['date']}, {host['nproc']} CPU(s) {host['cpu']}, Python {host['python']}, "
        f"kernel {host['kernel']}, load average before {host['load_before']}; tree {res.get('tree', '?')}.",
        f"Rows: {res['sent_unique']:,} unique events sent in the accept phase(s) (incl. warm-up), "
        f"{res['stored']:,} stored; after the drain {d['ignored']:,} 'ignored', {d['other']} other. "
        f"Live burst: {lv['ok']:,}/{lv['sent']:,} × 200, {lv['ignored']:,} 'ignored'.",
    ]
    notes += [f"LEAKED (killed by the bench): {x}" for x in res.get("leaked", [])] or [
        "No process left behind."
    ]
    return "\n".join(rows + notes)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of each measured phase (default 10)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent senders (default 32)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy raw profiles of web (webhook phase) and worker (drain) into this dir",
    )
    parser.add_argument(
        "--reps", type=int, default=1, help="healthz/webhook phase pairs (default 1)"
    )
    return parser.parse_args(argv)


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = ".venv/bin/python -m bench.webhooks " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    signal.signal(signal.SIGTERM, _interrupted)
    host = machine()
    become_subreaper()
    os.sched_setaffinity(0, {GEN_CORE})
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    stack: Stack | None = None
    res: dict[str, Any] = {}
    code = 1
    try:
        progress(f"services (work dir {work})")
        stack = start_stack(work)
        start_web(stack)
        progress(f"web on 127.0.0.1:{stack.port}")
        try:
            import uvloop

            res = uvloop.run(run(stack, args))
        except ImportError:
            res = asyncio.run(run(stack, args))
        res["date"] = datetime.now(UTC).isoformat(timespec="seconds")
        res["tree"] = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        code = 0
    except BenchError as exc:
        progress(f"FAILED: {exc}")
    except KeyboardInterrupt:
        progress("interrupted")
        code = 130
    finally:
        if stack is not None:
            for proc in (stack.worker, stack.web):
                if proc is not None:
                    proc.stop()
            stack.services.stop()
        leaked = sweep()
        if leaked:
            progress(f"killed leftovers: {leaked}")
        res["leaked"] = leaked
        shutil.rmtree(work, ignore_errors=True)
    if code == 0:
        print(markdown(res, args, host, command))
    return code


if __name__ == "__main__":
    sys.exit(main())
