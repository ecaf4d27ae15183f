"""Start-up benchmark of `python -m devtools.run` (cold and warm) against the embedded servers alone.

Run: `.venv/bin/python -m bench.startup [--reps 3] [--json]`. Results go to stdout (a markdown
table, or JSON), progress to stderr. Every measured process is a child of this one, is killed
when it overruns its time limit, and anything it leaves behind is killed and reported as a leak.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from devtools.procs import ROOT, free_port, http_status, tail

POLL_INTERVAL = 0.05
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
BUDGET = 300.0
KINDS = ("full", "peer")
PHASES = ("cold", "warm")


class BenchError(Exception):
    """A measured run failed or overran; the bench stops and says why."""


@dataclass
class Sample:
    kind: str  # "full" (the run command) or "peer" (embedded servers alone)
    phase: str  # "cold" (fresh DATA_DIR) or "warm" (same DATA_DIR again)
    rep: int
    start_s: float  # spawn -> ready (full: first 200 from /readyz; peer: services started)
    stop_s: float  # SIGINT -> the process exited
    self_reported_s: float | None = (
        None  # full: the "ready in" banner; peer: Services.startup_seconds
    )
    leaked: list[str] = field(
        default_factory=list
    )  # processes still alive after exit (then killed)


@dataclass
class Stats:
    median: float
    low: float
    high: float
    n: int


# --- process hygiene --------------------------------------------------------------------------


def become_subreaper() -> bool:
    # pg_ctl daemonizes PostgreSQL and every stack process has its own session, so killing a
    # process group would miss them. As a child subreaper (Linux) every orphaned descendant is
    # re-parented to us, which lets sweep() find and kill whatever a run leaves behind.
    if sys.platform != "linux":
        return False
    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0


def _mentions(proc: psutil.Process, needle: str) -> bool:
    try:
        return any(needle in arg for arg in proc.cmdline())
    except psutil.Error:
        return False


def sweep(needle: str) -> list[str]:
    """Kill descendants and processes whose command line names `needle`; return the live ones found."""
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    # Without subreaper support, a daemonized PostgreSQL is only findable by its data path.
    found.update(
        {p.pid: p for p in psutil.process_iter() if p.pid != me.pid and _mentions(p, needle)}
    )
    leaked: list[str] = []
    for proc in found.values():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            leaked.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
            proc.terminate()
        except psutil.Error:
            continue
    _gone, alive = psutil.wait_procs(list(found.values()), timeout=5)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    reap_zombies()
    return leaked


def reap_zombies() -> None:
    # Re-parented orphans that exited are our zombies now; only called when no Popen is pending.
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def interrupt_and_wait(proc: subprocess.Popen[bytes], timeout: float) -> float | None:
    """SIGINT (what Ctrl-C sends) and the seconds until exit; None when it had to be killed."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    return time.monotonic() - sent


# --- environment ------------------------------------------------------------------------------


def bench_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment minus service URLs (so everything runs embedded), on free ports."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATA_DIR=str(data_dir), PORT=str(free_port()), SMTP_PORT=str(free_port()), NO_COLOR="1"
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn_logged(
    argv: Sequence[str], env: Mapping[str, str], log: Path, pipe_stdout: bool = False
) -> subprocess.Popen[bytes]:
    """Own session (as `make run` from a terminal would be); stderr, and stdout unless piped, to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=str(ROOT),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe_stdout else out,
            stderr=out if pipe_stdout else subprocess.STDOUT,
            start_new_session=True,
        )


# --- one measurement --------------------------------------------------------------------------


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path, what: str
) -> float:
    """Seconds from now until `ready()`; raises when the process dies or START_TIMEOUT passes."""
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        if ready():
            return time.monotonic() - started
        if proc.poll() is not None:
            raise BenchError(
                f"{what} exited with code {proc.returncode} before ready; log:\n{tail(log, 30)}"
            )
        time.sleep(POLL_INTERVAL)
    raise BenchError(f"{what} not ready after {START_TIMEOUT:.0f}s; log:\n{tail(log, 30)}")


def reported_ready(log: Path) -> float | None:
    for line in log.read_text(errors="replace").splitlines():
        _, sep, rest = line.partition("ready in ")
        if sep and not line.split("|")[-1].strip().startswith("services"):
            try:
                return float(rest.split("s")[0])
            except ValueError:
                return None
    return None


def measure_full(data_dir: Path, phase: str, rep: int, log: Path) -> Sample:
    env = bench_env(data_dir)
    readyz = f"http://127.0.0.1:{env['PORT']}/readyz"
    spawned = time.monotonic()
    proc = spawn_logged([sys.executable, "-m", "devtools.run"], env, log)
    try:
        wait_ready(proc, lambda: http_status(readyz, timeout=1.0) == 200, log, "devtools.run")
        start_s = time.monotonic() - spawned
        stop_s = interrupt_and_wait(proc, STOP_TIMEOUT)
    finally:
        if proc.poll() is None:  # failed or overran: stop it the way a user would, kill if ignored
            interrupt_and_wait(proc, STOP_TIMEOUT)
    if stop_s is None:
        raise BenchError(
            f"devtools.run ignored SIGINT for {STOP_TIMEOUT:.0f}s; log:\n{tail(log, 30)}"
        )
    return Sample("full", phase, rep, start_s, stop_s, reported_ready(log), sweep(str(data_dir)))


def measure_peer(data_dir: Path, phase: str, rep: int, log: Path) -> Sample:
    # A child process too, so both sides pay for interpreter start-up and imports alike.
    env = bench_env(data_dir)
    spawned = time.monotonic()
    argv = [sys.executable, "-m", "bench.startup", "--peer-child", str(data_dir)]
    proc = spawn_logged(argv, env, log, pipe_stdout=True)
    assert proc.stdout is not None
    line = b""
    try:

        def ready() -> bool:
            nonlocal line
            if select.select([proc.stdout], [], [], 0)[0]:
                line = proc.stdout.readline()  # type: ignore[union-attr]
            return line.startswith(b"{")

        wait_ready(proc, ready, log, "peer (resolve_services)")
        start_s = time.monotonic() - spawned
        stop_s = interrupt_and_wait(proc, STOP_TIMEOUT)
    finally:
        if proc.poll() is None:  # failed or overran: stop it the way a user would, kill if ignored
            interrupt_and_wait(proc, STOP_TIMEOUT)
        proc.stdout.close()
    if stop_s is None:
        raise BenchError(f"peer ignored SIGINT for {STOP_TIMEOUT:.0f}s; log:\n{tail(log, 30)}")
    reported = float(json.loads(line)["startup_seconds"])
    return Sample("peer", phase, rep, start_s, stop_s, reported, sweep(str(data_dir)))


def peer_child(data_dir: Path) -> None:
    """The peer: start the embedded servers, say so on stdout, stop them on SIGINT."""
    from devtools.embedded import resolve_services

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    services = resolve_services(data_dir, {})
    try:
        print(json.dumps({"startup_seconds": services.startup_seconds}), flush=True)
        stop.wait()
    finally:
        services.stop()


# --- the whole bench --------------------------------------------------------------------------


MeasureFn = Callable[[Path, str, int, Path], Sample]


def run_bench(reps: int, budget: float, work: Path) -> tuple[list[Sample], list[str]]:
    """Interleave full and peer in every repetition so both see the same machine load."""
    measures: dict[str, MeasureFn] = {"full": measure_full, "peer": measure_peer}
    samples: list[Sample] = []
    notes: list[str] = []
    began = time.monotonic()
    longest_rep = 0.0
    for rep in range(1, reps + 1):
        rep_began = time.monotonic()
        if rep > 1 and time.monotonic() - began + longest_rep > budget:
            notes.append(
                f"stopped after {rep - 1} repetition(s): another would overrun the {budget:.0f}s budget"
            )
            break
        for kind in KINDS:
            data_dir = work / f"{kind}-{rep}"  # fresh and empty: the cold phase creates everything
            for phase in PHASES:
                log = work / f"{kind}-{rep}-{phase}.log"
                print(f"bench | rep {rep} {kind} {phase} ...", file=sys.stderr, flush=True)
                sample = measures[kind](data_dir, phase, rep, log)
                samples.append(sample)
                print(
                    f"bench |   start {sample.start_s:.2f}s  stop {sample.stop_s:.2f}s"
                    + (f"  LEAKED {sample.leaked}" if sample.leaked else ""),
                    file=sys.stderr,
                    flush=True,
                )
            shutil.rmtree(data_dir, ignore_errors=True)
        took = time.monotonic() - rep_began
        longest_rep = max(longest_rep, took)
        print(f"bench | rep {rep} took {took:.1f}s", file=sys.stderr, flush=True)
    return samples, notes


def stats(values: Sequence[float]) -> Stats:
    return Stats(median=statistics.median(values), low=min(values), high=max(values), n=len(values))


def summarize(samples: Sequence[Sample]) -> dict[str, dict[str, Stats]]:
    """{"cold start": {"full": Stats, "peer": Stats}, "cold stop": ..., ...}."""
    table: dict[str, dict[str, Stats]] = {}
    for phase in PHASES:
        for metric in ("start", "stop"):
            row = {}
            for kind in KINDS:
                values = [
                    getattr(s, f"{metric}_s")
                    for s in samples
                    if s.kind == kind and s.phase == phase
                ]
                if values:
                    row[kind] = stats(values)
            table[f"{phase} {metric}"] = row
    return table


def fmt(s: Stats) -> str:
    return f"{s.median:.2f} s ({s.low:.2f}–{s.high:.2f})"


def markdown(summary: Mapping[str, Mapping[str, Stats]]) -> str:
    lines = [
        "| measure | full run command: median (min–max) | peer, embedded servers alone: median (min–max)"
        " | ratio full/peer | full − peer |",
        "|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        if "full" not in row or "peer" not in row:
            continue
        full, peer = row["full"], row["peer"]
        ratio = full.median / peer.median if peer.median > 0 else float("inf")
        lines.append(
            f"| {name} | {fmt(full)} | {fmt(peer)} | {ratio:.1f}× | {full.median - peer.median:+.2f} s |"
        )
    return "\n".join(lines)


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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--reps", type=int, default=3, help="repetitions of each measurement (default 3)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON (samples and summary) instead of markdown"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=BUDGET,
        help=f"skip repetitions that would end after this many seconds (default {BUDGET:.0f})",
    )
    parser.add_argument("--peer-child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def report(
    samples: list[Sample], notes: list[str], reps: int, as_json: bool, host: Mapping[str, str]
) -> str:
    summary = summarize(samples)
    if as_json:
        return json.dumps(
            {
                "machine": host,
                "reps": reps,
                "notes": notes,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "samples": [asdict(s) for s in samples],
                "summary": {
                    name: {k: asdict(v) for k, v in row.items()} for name, row in summary.items()
                },
            },
            indent=2,
        )
    leaks = [f"{s.kind} {s.phase} rep {s.rep}: {leak}" for s in samples for leak in s.leaked]
    done = len({s.rep for s in samples})
    parts = [
        markdown(summary),
        "",
        f"{done} repetition(s); {host['nproc']} CPU(s), {host['cpu']};"
        f" load average before: {host['load_before']}",
    ]
    parts += [f"note: {note}" for note in notes]
    parts += [f"LEAKED (killed by the bench): {leak}" for leak in leaks] or [
        "no process left behind"
    ]
    return "\n".join(parts)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    # SIGTERM as an exception, so main's finally block still kills children and removes the dir.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peer_child is not None:
        peer_child(args.peer_child)
        return 0
    host = machine()  # the load average before we add our own
    if not become_subreaper():
        print(
            "bench | no child-subreaper support: leftovers are found by data path only",
            file=sys.stderr,
        )
    work = Path(tempfile.mkdtemp(prefix="weokto-bench-"))
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # even when started with SIGINT ignored (`cmd &`)
    try:
        samples, notes = run_bench(args.reps, args.budget, work)
    except BenchError as err:
        print(f"bench | FAILED: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench | interrupted", file=sys.stderr)
        return 130
    finally:
        leftovers = sweep(str(work))
        if leftovers:
            print(f"bench | killed leftovers: {leftovers}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    print(report(samples, notes, args.reps, args.json, host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
