"""Fan-out bench: our chat path vs python-socketio (stock, fan-out engine), bare ASGI and Node socket.io.

Run: `.venv/bin/python -m bench.fanout --clients 1000,5000 --reps 3 --duration 10` (`--quick` for a
smoke check of a few minutes); each client count runs with 1 and then 2 server processes. A
markdown report goes to stdout (`--json PATH` keeps the raw figures), progress to stderr. Servers
(and the embedded PostgreSQL/Redis) run on core 0, the load generator and this process on core 1.
Every process started here is stopped at the end, and anything left behind is killed; every wait
has a time limit.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import queue
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.fanout.loadgen import raise_nofile
from devtools.embedded import (
    Services,
    resolve_services,
    with_database,
)
from devtools.procs import ROOT, free_port, http_status, path_with_venv, tail, tcp_answers, venv_bin
from devtools.stack import migrate_argv, stack_env

SERVER_CORE, GEN_CORE = 0, 1
TARGETS = ("ours", "py", "pyfast", "asgi", "node")
LABELS = {
    "ours": "ours (full chat path)",
    "py": "python-socketio stock",
    "pyfast": "python-socketio + fan-out engine",
    "asgi": "bare ASGI ceiling",
    "node": "Node socket.io",
}
PYTHON_TARGETS = ("ours", "py", "pyfast", "asgi")
RATIO_BASES = ("node", "asgi", "py")  # the report's "ours ÷ X" columns
PEER_DIR = ROOT / "bench" / "peer"
BENCH_DB = "weokto_bench_fanout"
START_TIMEOUT = 120.0
# Time limits are for 1,000 clients and grow with the client count (scale()).
READY_TIMEOUT = 180.0
PHASE_SLACK = 40.0  # a phase result may come this long after warmup + duration (drain, slow acks)
DRAIN_S = 15.0  # the generator's wait for the last deliveries after a phase (within PHASE_SLACK)
CONNECT_TIMEOUT, CALL_TIMEOUT = 20.0, 30.0  # per client connect, per join ack
QUIET_THRESHOLD = 0.15  # a core busier than this before a phase means a neighbour is at work


class BenchError(Exception):
    """A step failed or overran: the bench stops, cleans up and says why."""


# --- processes --------------------------------------------------------------------------------


def become_subreaper() -> None:
    # pg_ctl daemonizes PostgreSQL: as a child subreaper its orphans are re-parented to us, so the
    # final sweep finds whatever a run leaves behind.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def scale(clients: int) -> float:
    """Time limits grow with the room size (connects, drains and acks take longer at 5,000)."""
    return max(1.0, clients / 1000)


def pin_tree(pid: int, core: int) -> None:
    """Pin a process and its current children (new children inherit it)."""
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            proc.cpu_affinity([core])
    except psutil.Error:
        pass


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # the group: workers, reloaders, anything
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def spawn(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    core: int,
    cwd: Path = ROOT,
    pipes: bool = False,
) -> Proc:
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=str(cwd),
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else out,
            stderr=out,
            start_new_session=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {core}),
        )
    return Proc(name, popen, log)


def wait_for(
    check: Callable[[], bool], proc: Proc, what: str, timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not proc.alive():
            raise BenchError(f"{what} exited ({proc.popen.returncode}); log:\n{tail(proc.log, 30)}")
        time.sleep(0.1)
    raise BenchError(f"{what} not ready after {timeout:.0f}s; log:\n{tail(proc.log, 30)}")


def sweep() -> list[str]:
    """Kill every descendant still alive (there should be none); return what was found."""
    found = psutil.Process().children(recursive=True)
    leaked = []
    for proc in found:
        try:
            leaked.append(f"{proc.pid} {' '.join(proc.cmdline())[:100]}")
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(found, timeout=5)
    while True:  # reap re-parented orphans
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    return leaked


def cpu_of(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def rss_of(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total


def core_busy() -> list[tuple[int, int]]:
    """(busy, total) jiffies per core from /proc/stat; softirq counts as busy (loopback TCP)."""
    out = []
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu") and line[3] != " ":
                f = [int(x) for x in line.split()[1:9]]
                out.append((sum(f) - f[3] - f[4], sum(f)))
    return out


def busy_between(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[float]:
    return [(b1 - a1) / max(1, t1 - t0) for (a1, t0), (b1, t1) in zip(a, b)]


def all_cpu() -> dict[int, float]:
    """CPU seconds of every process on the machine (to see other tenants' load during a phase)."""
    out = {}
    for proc in psutil.process_iter(["cpu_times"]):
        times = proc.info["cpu_times"]
        if times is not None:
            out[proc.pid] = times.user + times.system
    return out


def foreign_cpu(before: dict[int, float], after: dict[int, float], ours: set[int]) -> float:
    """CPU seconds used between two snapshots by processes that are not this bench's."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items() if pid not in ours)


def our_pids(backing_roots: Sequence[int]) -> set[int]:
    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.children(recursive=True)), *backing_tree(backing_roots)}


def wait_quiet(limit_s: float, threshold: float) -> list[float]:
    """Wait (at most `limit_s`) for a second in which no core is busier than `threshold`.

    This machine may be shared (another session's test suite): a phase run next to it measures
    the neighbour as much as the server. Returns the last second's per-core load.
    """
    deadline = time.monotonic() + limit_s
    while True:
        a = core_busy()
        time.sleep(1.0)
        load = busy_between(a, core_busy())
        if max(load) < threshold or time.monotonic() >= deadline:
            return load


# --- the generator ----------------------------------------------------------------------------


class Generator:
    """The loadgen child: JSON commands in on stdin, JSON results out on stdout (read by a thread)."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.popen.stdout is not None
        for raw in self.proc.popen.stdout:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                continue
        self.lines.put(
            {"event": "error", "error": f"generator exited; log:\n{tail(self.proc.log, 20)}"}
        )

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(
                f"generator: no {event!r} after {timeout:.0f}s; log:\n{tail(self.proc.log, 20)}"
            ) from None
        if line.get("event") != event:
            raise BenchError(f"generator: expected {event!r}, got {line}")
        return line

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.popen.stdin is not None
        self.proc.popen.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.popen.stdin.flush()

    def quit(self) -> None:
        try:
            self.send({"cmd": "quit"})
            self.proc.popen.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.proc.stop(timeout=2)


# --- the targets ------------------------------------------------------------------------------


@dataclass
class Ctx:
    args: argparse.Namespace
    work: Path
    services: Services
    backing_roots: list[int]  # embedded PostgreSQL / Redis (their children are looked up per phase)
    secret: str
    seeded: dict[str, Any] | None = None


@dataclass
class Setup:
    target: str
    procs: int
    clients: int
    servers: list[Proc]
    ports: list[int]
    gen: Generator | None = None
    rss_before: int = 0
    rss_after: int = 0
    connect_s: float = 0.0

    @property
    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.servers]


def ours_env(ctx: Ctx, port: int, origin_port: int) -> dict[str, str]:
    env = stack_env(
        os.environ, ctx.services, port=port, smtp_port=free_port(), app_env="production"
    )
    env.update(
        SECRET_KEY=ctx.secret,
        WEOKTO_BASE_URL=f"http://localhost:{origin_port}",
        STAM_BASE_URL=f"http://stam.localhost:{origin_port}",
        LOG_JSON="1",
        DATA_DIR=str(ctx.work / "data"),
    )
    return env


def uvicorn_argv(app: str, port: int, engine: bool) -> list[str]:
    # The flags of the Procfile's web line. Targets on the fan-out engine (ours, pyfast) get its
    # lean websocket protocol as the Procfile does; the stock peers keep uvicorn's own.
    ws = (
        ["--ws", "realtime.fanout:LeanWebSocketProtocol", "--ws-ping-interval", "0"]
        if engine
        else ["--ws", "websockets-sansio"]
    )
    return [
        venv_bin("uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *ws,
        "--ws-per-message-deflate",
        "false",
        "--timeout-graceful-shutdown",
        "5",
    ]


def peer_env(ctx: Ctx, target: str, procs: int) -> dict[str, str]:
    """Environment of a Python peer: the Redis backplane with 2 processes; pyfast = peer_py on the engine."""
    env = {**os.environ, "PATH": path_with_venv(os.environ)}
    if procs > 1:
        env["BENCH_REDIS_URL"] = ctx.services.redis_url
    if target == "pyfast":
        env["BENCH_FANOUT"] = "1"
    return env


PEER_APPS = {
    "py": "bench.fanout.peer_py:app",
    "pyfast": "bench.fanout.peer_py:app",
    "asgi": "bench.fanout.peer_asgi:app",
}


def start_target(ctx: Ctx, target: str, procs: int, clients: int) -> Setup:
    ports = [free_port() for _ in range(procs)]
    servers: list[Proc] = []
    setup = Setup(target, procs, clients, servers, ports)
    for i, port in enumerate(ports):
        log = ctx.work / "logs" / f"{target}-{clients}c-{procs}p-{i}.log"
        if target == "ours":
            proc = spawn(
                f"ours:{port}",
                uvicorn_argv("server.app:asgi", port, engine=True),
                ours_env(ctx, port, ports[0]),
                log,
                SERVER_CORE,
            )
            servers.append(proc)
            wait_for(
                lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200, proc, proc.name
            )
        elif target in PEER_APPS:
            proc = spawn(
                f"{target}:{port}",
                uvicorn_argv(PEER_APPS[target], port, engine=target == "pyfast"),
                peer_env(ctx, target, procs),
                log,
                SERVER_CORE,
            )
            servers.append(proc)
            wait_for(lambda: tcp_answers("127.0.0.1", port), proc, proc.name)
        else:
            env = {**os.environ, "PORT": str(port)}
            if procs > 1:
                env["REDIS_URL"] = ctx.services.redis_url
            proc = spawn(f"node:{port}", ["node", "server.js"], env, log, SERVER_CORE, cwd=PEER_DIR)
            servers.append(proc)
            wait_for(lambda: tcp_answers("127.0.0.1", port), proc, proc.name)
    return setup


def lifetime(args: argparse.Namespace, clients: int) -> float:
    """An upper bound for one block (size x process count): a generator idles while the others' phases run."""
    phase = args.warmup + args.duration + PHASE_SLACK * scale(clients) + args.quiet_wait + 5
    phases = len(args.targets) * (args.reps * 2 + (1 if args.profile else 0))
    return phases * phase + len(args.targets) * (READY_TIMEOUT * scale(clients) + 10)


def connect_generator(ctx: Ctx, setup: Setup) -> None:
    args, clients = ctx.args, setup.clients
    cfg: dict[str, Any] = {
        "host": "127.0.0.1",
        "ports": setup.ports,
        "clients": clients,
        "origin": f"http://localhost:{setup.ports[0]}",
        "host_header": "localhost",
        "channel_id": 1,
        "cookies": [],
        "connect_timeout": CONNECT_TIMEOUT * scale(clients),
        "call_timeout": CALL_TIMEOUT * scale(clients),
        "lifetime_s": lifetime(args, clients),
    }
    if setup.target == "ours":
        assert ctx.seeded is not None
        cfg["channel_id"] = ctx.seeded["channel_id"]
        cfg["cookies_file"] = ctx.seeded["path"]
    cfg["warm_clients"] = warm_clients(clients, len(setup.ports))
    argv = [sys.executable, "-m", "bench.fanout.loadgen", json.dumps(cfg)]
    log = ctx.work / "logs" / f"gen-{setup.target}-{clients}c-{setup.procs}p.log"
    setup.gen = Generator(
        spawn(
            f"gen-{setup.target}",
            argv,
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            log,
            GEN_CORE,
            pipes=True,
        )
    )
    # The RSS baseline is taken with a few clients already in: a server's first connections pay
    # one-time costs (lazy imports, pool connections) that are not a per-connection cost.
    setup.gen.expect("warm", READY_TIMEOUT * scale(clients))
    time.sleep(args.settle)
    setup.rss_before = rss_of(setup.pids)
    setup.gen.send({"cmd": "go"})
    ready = setup.gen.expect("ready", READY_TIMEOUT * scale(clients))
    setup.connect_s = ready["connect_s"] + ready["join_s"]
    time.sleep(args.settle)
    setup.rss_after = rss_of(setup.pids)


def warm_clients(clients: int, ports: int) -> int:
    return min(clients // 5, 25 * ports)


# --- phases -----------------------------------------------------------------------------------


def run_phase(ctx: Ctx, setup: Setup, cmd: dict[str, Any]) -> dict[str, Any]:
    """Send one command; sample server, backing-service and per-core CPU over its window."""
    assert setup.gen is not None
    background = wait_quiet(ctx.args.quiet_wait, QUIET_THRESHOLD)
    setup.gen.send(cmd)
    time.sleep(cmd["warmup"])
    backing = backing_tree(ctx.backing_roots)
    mine = our_pids(ctx.backing_roots)
    c0, b0, k0, a0 = cpu_of(setup.pids), cpu_of(backing), core_busy(), all_cpu()
    profiler = start_profiler(ctx, setup, cmd)
    time.sleep(cmd["duration"])
    c1, b1, k1, a1 = cpu_of(setup.pids), cpu_of(backing), core_busy(), all_cpu()
    result = setup.gen.expect(cmd["cmd"], PHASE_SLACK * scale(setup.clients))
    if profiler is not None:
        finish_profiler(profiler)
    mine |= {profiler.popen.pid} if profiler is not None else set()
    server_cpu, backing_cpu = (c1 - c0) / cmd["duration"], (b1 - b0) / cmd["duration"]
    result.update(
        target=setup.target,
        procs=setup.procs,
        server_cpu=server_cpu,
        backing_cpu=backing_cpu,
        core_busy=busy_between(k0, k1),
        background_busy=background,
        foreign_cpu=foreign_cpu(a0, a1, mine) / cmd["duration"],
        rss_after=rss_of(setup.pids),
    )
    if cmd["cmd"] == "sat":
        # Deliveries per CPU-second of the whole server side (for ours: + PostgreSQL and Redis,
        # which only it uses in the 1-process case): less sensitive to a busy neighbour.
        result["deliveries_per_cpu_s"] = result["deliveries_per_s"] / max(
            1e-9, server_cpu + backing_cpu
        )
    for proc in setup.servers:
        if not proc.alive():
            raise BenchError(f"{proc.name} died during {cmd['cmd']}; log:\n{tail(proc.log, 30)}")
    return result


def start_profiler(ctx: Ctx, setup: Setup, cmd: dict[str, Any]) -> Proc | None:
    """py-spy on the first server process during the first saturation rep (with --profile)."""
    args = ctx.args
    if not cmd.get("profile"):
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{setup.target}-{setup.clients}c-{setup.procs}p.txt"
    argv = [
        venv_bin("py-spy"),
        "record",
        "--pid",
        str(setup.pids[0]),
        "--duration",
        str(int(cmd["duration"])),
        "--rate",
        "100",
        "--format",
        "raw",
        "--native",
        "-o",
        str(out),
    ]
    return spawn("py-spy", argv, os.environ, ctx.work / "logs" / "py-spy.log", GEN_CORE)


def finish_profiler(proc: Proc) -> None:
    try:
        proc.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.stop()


def progress(msg: str) -> None:
    print(f"[fanout {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_block(ctx: Ctx, clients: int, procs: int, setups: list[Setup]) -> dict[str, Any]:
    """One table of the report: every target at one client count and process count."""
    args = ctx.args
    out: dict[str, Any] = {"clients": clients, "procs": procs, "memory": {}, "sat": [], "lat": []}
    tag = f"{clients}c {procs}p"
    for target in args.targets:
        setup = start_target(ctx, target, procs, clients)
        setups.append(setup)
        connect_generator(ctx, setup)
        per_conn = (setup.rss_after - setup.rss_before) / (clients - warm_clients(clients, procs))
        out["memory"][target] = {
            "rss_before": setup.rss_before,
            "rss_after": setup.rss_after,
            "per_conn_bytes": per_conn,
            "connect_join_s": setup.connect_s,
        }
        progress(
            f"{tag} {target}: {clients} clients (connect+join after the warm ones "
            f"{setup.connect_s:.1f}s), {per_conn / 1024:.1f} KiB/conn"
        )
    by_target = {s.target: s for s in setups}
    if args.profile:  # an extra, unrecorded saturation run per Python target, under py-spy
        for target in (t for t in args.targets if t in PYTHON_TARGETS):
            run_phase(ctx, by_target[target], sat_cmd(args, clients) | {"profile": True})
            progress(f"{tag} {target}: profile written to {args.profile}")
    # Rounds interleave the targets, so drift (other tenants, thermal) spreads over all of them.
    for rep in range(args.reps):
        for target in args.targets:
            r = run_phase(ctx, by_target[target], sat_cmd(args, clients))
            r["rep"] = rep
            out["sat"].append(r)
            progress(
                f"{tag} {target} sat rep {rep + 1}: {r['deliveries_per_s']:,.0f} deliveries/s "
                f"(server cpu {r['server_cpu']:.0%}+{r['backing_cpu']:.0%}, gen cpu {r['gen_cpu']:.0%}, "
                f"neighbours {r['foreign_cpu']:.0%}, errors {r['errors'] or 0})"
            )
    rates, out["rate_basis"] = latency_rates(args, out["sat"], clients)
    for rep in range(args.reps):
        for target in args.targets:
            r = run_phase(
                ctx,
                by_target[target],
                {
                    "cmd": "lat",
                    "duration": args.duration,
                    "warmup": args.warmup,
                    "rate": round(rates[target], 2),
                    "drain_max_s": DRAIN_S * scale(clients),
                },
            )
            r["rep"] = rep
            out["lat"].append(r)
            progress(
                f"{tag} {target} lat rep {rep + 1} at {rates[target]:.1f} msg/s: p50 {fmt_ms(r['p50_ms'])} "
                f"p99 {fmt_ms(r['p99_ms'])} (fanout {r['fanout']:.0f}, skipped {r['skipped']})"
            )
    return out


def sat_cmd(args: argparse.Namespace, clients: int) -> dict[str, Any]:
    return {
        "cmd": "sat",
        "duration": args.duration,
        "warmup": args.warmup,
        "window": args.window,
        "drain_max_s": DRAIN_S * scale(clients),
    }


def latency_rates(
    args: argparse.Namespace, sats: list[dict[str, Any]], clients: int
) -> tuple[dict[str, float], str]:
    """The fixed latency rate (msg/s) per target and what it is based on.

    Half of a saturation rate, in messages (deliveries/s ÷ N): by default Node's, so every target
    is measured at the same load that Node handles with room to spare; ours when Node is not run.
    """
    half = {
        t: statistics.median(r["deliveries_per_s"] for r in sats if r["target"] == t) / clients / 2
        for t in args.targets
    }
    if args.rate:
        return {t: args.rate for t in args.targets}, "--rate"
    for basis in (args.rate_from, "ours"):
        if basis in half:
            return {t: half[basis] for t in args.targets}, f"half of {basis}'s"
    return half, "half of own"


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


# --- services and our stack -------------------------------------------------------------------


def start_services(work: Path, need_db: bool) -> tuple[Services, list[int]]:
    env = dict(os.environ)
    if env.get("DATABASE_URL"):  # never write bench rows into the caller's database
        env["DATABASE_URL"] = with_database(env["DATABASE_URL"], BENCH_DB)
    if not need_db:
        env.setdefault("DATABASE_URL", "postgresql://unused/unused")
    services = resolve_services(
        work / "svc", env, db_name=BENCH_DB, persist_redis=False, create_database=need_db
    )
    backing = []
    for svc in services.started:
        pid = getattr(svc, "pid", None) or getattr(getattr(svc, "process", None), "pid", None)
        if pid:
            pin_tree(pid, SERVER_CORE)
            backing.append(pid)
    return services, backing


def backing_tree(pids: Sequence[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            out += [root.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            pass
    return out


def prepare_ours(ctx: Ctx) -> None:
    env = ours_env(ctx, free_port(), free_port())
    result = subprocess.run(
        migrate_argv(), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise BenchError(f"migrations failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    path = ctx.work / "seed.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.fanout.seed", str(max(ctx.args.clients)), str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise BenchError(f"seeding failed:\n{result.stderr[-3000:]}")
    ctx.seeded = {**json.loads(path.read_text()), "path": str(path)}
    ctx.seeded.pop("cookies")


def flush_redis(url: str) -> None:
    """Each block starts from an empty Redis (presence, rate limits), with every server stopped."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def ensure_node_peer() -> None:
    if (PEER_DIR / "node_modules" / "socket.io").exists():
        return
    progress("npm install in bench/peer (node_modules is missing)")
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"],
        cwd=PEER_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise BenchError(f"npm install failed:\n{result.stderr[-2000:]}")


# --- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = ""
    try:
        model = next(
            l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")
        )
    except (OSError, StopIteration):
        pass

    def version(mod: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(mod)
        except PackageNotFoundError:
            return "?"

    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    try:
        sio_node = json.loads(
            (PEER_DIR / "node_modules" / "socket.io" / "package.json").read_text()
        )["version"]
    except OSError:
        sio_node = "?"
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "mem_gib": f"{psutil.virtual_memory().total / 2**30:.0f}",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python-socketio": version("python-socketio"),
        "python-engineio": version("python-engineio"),
        "uvicorn": version("uvicorn"),
        "websockets": version("websockets"),
        "node": node,
        "socket.io (node)": sio_node,
    }


def med(rows: list[dict[str, Any]], key: str) -> tuple[float, float, float] | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def rng(t: tuple[float, float, float] | None, spec: str = ",.0f", scale: float = 1.0) -> str:
    if t is None:
        return "-"
    m, lo, hi = (x * scale for x in t)
    return f"{m:{spec}} ({lo:{spec}}–{hi:{spec}})" if hi != lo else f"{m:{spec}}"


def round_ratios(
    rows: dict[str, list[dict[str, Any]]], target: str, key: str
) -> tuple[float, float, float] | None:
    """ours ÷ target within each round (the two ran seconds apart), then median (min–max)."""
    ours = {r["rep"]: r[key] for r in rows.get("ours", []) if r.get(key) is not None}
    ratios = [
        ours[r["rep"]] / r[key] for r in rows.get(target, []) if r["rep"] in ours and r.get(key)
    ]
    return (statistics.median(ratios), min(ratios), max(ratios)) if ratios else None


@dataclass(frozen=True)
class Metric:
    """One row of a block's table: where the figure comes from and how it is printed."""

    label: str
    phase: str  # "sat", "lat", "sat+lat" or "mem" (measured once per block, after connecting)
    key: str
    spec: str
    unit: str = ""
    scale: float = 1.0
    ratio: bool = True  # print the "ours ÷ X" columns


METRICS = (
    Metric("deliveries/s", "sat", "deliveries_per_s", ",.0f"),
    Metric("deliveries per server CPU-s", "sat", "deliveries_per_cpu_s", ",.0f"),
    Metric("server CPU", "sat", "server_cpu", ".0%", ratio=False),
    Metric("PostgreSQL/Redis CPU", "sat", "backing_cpu", ".0%", ratio=False),
    Metric("generator CPU", "sat", "gen_cpu", ".0%", ratio=False),
    Metric("neighbours' CPU", "sat+lat", "foreign_cpu", ".0%", ratio=False),
    Metric("p50 latency", "lat", "p50_ms", ",.1f", " ms"),
    Metric("p99 latency", "lat", "p99_ms", ",.0f", " ms"),
    Metric("max latency", "lat", "max_ms", ",.0f", " ms"),
    Metric("mem/idle conn", "mem", "per_conn_bytes", ".1f", " KiB", 1 / 1024),
    Metric("connect+join", "mem", "connect_join_s", ",.1f", " s"),
)

# The product targets: (what, phase, key, ours ÷ this target, bound, True = at least / False = at most).
GOALS = (
    ("deliveries/s ours ÷ node", "sat", "deliveries_per_s", "node", 0.5, True),
    ("deliveries/s ours ÷ asgi", "sat", "deliveries_per_s", "asgi", 0.8, True),
    ("mem/idle conn ours ÷ node", "mem", "per_conn_bytes", "node", 2.0, False),
    ("p99 ours ÷ node", "lat", "p99_ms", "node", 2.0, False),
)


def block_rows(
    block: dict[str, Any], targets: Sequence[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A block's figures by phase and target; the memory reading counts as one round."""
    sat = {t: [r for r in block["sat"] if r["target"] == t] for t in targets}
    lat = {t: [r for r in block["lat"] if r["target"] == t] for t in targets}
    mem = {t: [{**block["memory"][t], "rep": 0}] for t in targets if t in block["memory"]}
    return {"sat": sat, "lat": lat, "mem": mem, "sat+lat": {t: sat[t] + lat[t] for t in targets}}


def table(rows: dict[str, dict[str, list[dict[str, Any]]]], targets: Sequence[str]) -> list[str]:
    bases = [b for b in RATIO_BASES if b in targets and "ours" in targets]
    out = [
        "| | "
        + " | ".join(LABELS[t] for t in targets)
        + "".join(f" | ours ÷ {b}" for b in bases)
        + " |",
        "|---" * (1 + len(targets) + len(bases)) + "|",
    ]
    for m in METRICS:
        by_target = rows[m.phase]
        cells = [rng(med(by_target.get(t, []), m.key), m.spec, m.scale) for t in targets]
        cells = [c + m.unit if c != "-" else c for c in cells]
        ratios = [ratio_cell(round_ratios(by_target, b, m.key)) if m.ratio else "" for b in bases]
        out.append(f"| {m.label} | " + " | ".join(cells + ratios) + " |")
    return out


def ratio_cell(ratio: tuple[float, float, float] | None) -> str:
    return "-" if ratio is None else rng(ratio, ".2f") + "x"


def goals_line(rows: dict[str, dict[str, list[dict[str, Any]]]], rate_basis: str) -> str:
    parts = []
    for what, phase, key, base, bound, at_least in GOALS:
        ratio = round_ratios(rows[phase], base, key)
        if ratio is None:
            parts.append(f"{what}: n/a")
            continue
        ok = ratio[0] >= bound if at_least else ratio[0] <= bound
        note = (
            ""
            if phase != "lat" or rate_basis == "half of node's"
            else " (not at half of Node's rate)"
        )
        parts.append(
            f"{what} {ratio[0]:.2f}x {'≥' if at_least else '≤'} {bound:g}: "
            f"**{'PASS' if ok else 'MISS'}**{note}"
        )
    return "Targets: " + "; ".join(parts) + "."


def markdown(results: dict[str, Any]) -> str:
    args = results["args"]
    lines = [
        f"One channel; {args['reps']} reps × {args['duration']:g} s per phase "
        f"(+{args['warmup']:g} s warm-up); saturation keeps {args['window']} messages in flight. "
        'Median (min–max) over reps; "ours ÷ X" is taken within each round, then the median '
        "(memory and connect+join are read once per block).",
        "",
    ]
    for block in results["runs"]:
        procs, targets = block["procs"], args["targets"]
        rows = block_rows(block, targets)
        rates = sorted({r["rate"] for r in block["lat"]})
        rate = f"{rates[0]} msg/s" if len(rates) == 1 else "each target's own rate"
        lines += [
            f"**{block['clients']:,} clients, {procs} server process{'es' if procs > 1 else ''}**; "
            f"latency at {rate} ({block['rate_basis']} saturation rate)",
            "",
            *table(rows, targets),
            "",
            goals_line(rows, block["rate_basis"]),
        ]
        other = med(rows["sat"].get("ours", []), "other_events_per_s")
        if other and other[0] > 0:
            lines.append(
                f"\nOurs also sent {other[0]:,.0f} other events/s to the same sockets at saturation "
                "(not counted as deliveries)."
            )
        lines.append("")
    lines.append(f"Rerun: `{results['command']}`")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n")[0])
    p.add_argument(
        "--clients",
        default="1000,5000",
        help="receivers in the room, one block per count, e.g. 1000,5000",
    )
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per phase")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--window", type=int, default=32, help="messages in flight at saturation")
    p.add_argument(
        "--rate", type=float, default=0.0, help="latency phase msg/s (overrides --rate-from)"
    )
    p.add_argument(
        "--rate-from",
        choices=("node", "ours"),
        default="node",
        help="latency rate = half of this target's median saturation deliveries/s ÷ N "
        "(node falls back to ours when node is not among the targets)",
    )
    p.add_argument("--procs", default="1,2", help="server process counts, e.g. 1,2")
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument(
        "--quick", action="store_true", help="smoke check: 200 clients, 1 rep, 2 s phases"
    )
    p.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    p.add_argument(
        "--profile",
        type=Path,
        help="one extra saturation run of each Python target "
        "under py-spy (raw stacks, native frames) into DIR; not counted in the results",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait before a phase for the machine to go quiet (shared machines)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.reps, args.duration, args.warmup, args.quiet_wait = (
            "200",
            1,
            2.0,
            1.0,
            5.0,
        )
        args.settle = 1.0
    args.clients = [int(x) for x in args.clients.replace("_", "").split(",") if x]
    if not args.clients or min(args.clients) < 10:
        p.error("--clients needs counts of at least 10, e.g. 1000,5000")
    args.procs = [int(x) for x in args.procs.split(",")]
    args.targets = [t for t in args.targets.split(",") if t]
    if unknown := set(args.targets) - set(TARGETS):
        p.error(f"unknown targets: {sorted(unknown)}")
    if os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        p.error("needs two cores (server on core 0, generator on core 1)")
    return args


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.fanout " + " ".join(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupted)
    become_subreaper()
    raise_nofile()  # inherited by the servers and generators (5,000 sockets each)
    os.sched_setaffinity(0, {GEN_CORE})
    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    (work / "logs").mkdir()
    services: Services | None = None
    setups: list[Setup] = []
    results: dict[str, Any] = {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {},
        "runs": [],
    }
    code = 1
    try:
        if "node" in args.targets:
            ensure_node_peer()
        results["machine"] = machine()
        results["tree"] = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        progress(f"services (work dir {work})")
        services, backing = start_services(work, need_db="ours" in args.targets)
        ctx = Ctx(
            args=args,
            work=work,
            services=services,
            backing_roots=backing,
            secret=secrets.token_urlsafe(32),
        )
        if "ours" in args.targets:
            prepare_ours(ctx)
            progress(
                f"seeded {max(args.clients)} users, channel {ctx.seeded['channel_id'] if ctx.seeded else '?'}"
            )
        for clients, procs in ((c, p) for c in args.clients for p in args.procs):
            flush_redis(services.redis_url)
            try:
                results["runs"].append(run_block(ctx, clients, procs, setups))
            finally:
                for setup in setups:
                    if setup.gen is not None:
                        setup.gen.quit()
                    for proc in setup.servers:
                        proc.stop()
                setups.clear()
        print(markdown(results))
        code = 0
    except BenchError as exc:
        progress(f"FAILED: {exc}")
    except KeyboardInterrupt:
        progress("interrupted")
        code = 130
    finally:
        for setup in setups:
            if setup.gen is not None:
                setup.gen.proc.stop(timeout=2)
            for proc in setup.servers:
                proc.stop()
        if services is not None:
            services.stop()
        leaked = sweep()
        if leaked:
            progress(f"killed leftovers: {leaked}")
        results["leaked"] = leaked
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        if code == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            progress(f"logs kept in {work / 'logs'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
