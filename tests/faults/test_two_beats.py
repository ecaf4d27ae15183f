"""Two beats started by mistake: the second refuses to start, each job runs once per period,
and the lock frees when the first beat dies (tasks/beat_lock.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devtools.procs import ROOT, spawn, stop_groups
from devtools.stack import procfile_argv
from tasks.beat_lock import EXIT_CODE, LOCK_KEY
from tests.faults.conftest import scaled
from tests.harness import Stack

# beat_probe.PROBE_QUEUE: not imported, since importing beat_probe replaces the product app's
# beat schedule in this process (it is meant only for the beats this case starts).
PROBE_QUEUE = "faults-beat-probe"

PERIOD_S = scaled(0.5, 3.0)
PERIODS = 20
LOCK_TTL_S = scaled(2.0, 10.0)


class Beats:
    """Beat processes of the probe app, each with its own schedule file and log."""

    def __init__(self, stack: Stack, tmp: Path) -> None:
        self.stack, self.tmp = stack, tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        data = self.tmp / name
        data.mkdir(parents=True, exist_ok=True)
        env = {
            **self.stack.env,
            "DATA_DIR": str(data),  # its own schedule file: a refusal is the lock's, not dbm's
            "BEAT_PROBE_PERIOD_S": str(PERIOD_S),
            "BEAT_LOCK_TTL_S": str(LOCK_TTL_S),
        }
        argv = [
            "tests.faults.beat_probe:celery_app" if a == "tasks.app:celery_app" else a
            for a in procfile_argv("beat", env)
        ]
        with open(self.log(name), "ab") as log:
            proc = spawn(argv, env, stdout=log, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def stop_all(self) -> None:
        alive = [p for p in self.procs if p.poll() is None]
        stop_groups(alive, timeout=10)


@pytest.fixture
def beats(stack: Stack, tmp_path: Path) -> Iterator[Beats]:
    made = Beats(stack, tmp_path)
    yield made
    made.stop_all()


def _redis(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.env["REDIS_URL"])


async def _wait(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _arrivals(client: redis.Redis, seconds: float) -> list[float]:
    """When each probe job reached the queue (polled), over `seconds`."""
    times: list[float] = []
    seen = client.llen(PROBE_QUEUE)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now_len = client.llen(PROBE_QUEUE)
        times.extend([time.monotonic()] * (now_len - seen))
        seen = now_len
        await asyncio.sleep(0.02)
    return times


async def test_a_second_beat_refuses_and_each_job_runs_once_per_period(stack, beats, figures):
    client = _redis(stack)
    client.delete(PROBE_QUEUE, LOCK_KEY)
    first = beats.start("beat-a")
    await _wait(lambda: client.exists(LOCK_KEY), 30, "the first beat takes the lock")
    await _wait(lambda: client.llen(PROBE_QUEUE) > 0, 30, "the first beat sends its job")

    # Second beats started by mistake during the window (once at the start, once midway).
    second = beats.start("beat-b")
    watch = asyncio.ensure_future(_arrivals(client, PERIOD_S * PERIODS))
    second_rc = await asyncio.to_thread(second.wait, 60)
    await asyncio.sleep(PERIOD_S * PERIODS / 2)
    third = beats.start("beat-c")
    third_rc = await asyncio.to_thread(third.wait, 60)
    arrivals = await watch
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]

    assert first.poll() is None, beats.log("beat-a").read_text()[-2000:]
    refusal = beats.log("beat-b").read_text()
    figures.record(
        period_s=PERIOD_S,
        periods=PERIODS,
        jobs_sent=len(arrivals),
        min_gap_s=round(min(gaps), 3) if gaps else None,
        second_beat_exit=second_rc,
        third_beat_exit=third_rc,
        bound="second beat exits non-zero; one job per period (gap >= period/2)",
    )
    assert second_rc == EXIT_CODE and third_rc == EXIT_CODE, refusal[-2000:]
    assert "beat refused to start" in refusal
    assert PERIODS - 2 <= len(arrivals) <= PERIODS + 1, arrivals
    assert min(gaps) >= PERIOD_S / 2, gaps  # never two sends of one job in one period

    # The first beat dies without a word: its lock expires and a new beat may start.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    killed_at = time.monotonic()
    replacement = None
    while time.monotonic() - killed_at < LOCK_TTL_S * 3 + 30:
        replacement = beats.start("beat-d")
        try:
            await asyncio.to_thread(replacement.wait, LOCK_TTL_S + 5)
        except subprocess.TimeoutExpired:
            break  # still running: it holds the lock
        replacement = None
    assert replacement is not None, "no beat could start after the first one died"
    before = client.llen(PROBE_QUEUE)
    takeover = await _wait(
        lambda: client.llen(PROBE_QUEUE) > before, PERIOD_S * 4 + 10, "the new beat sends"
    )
    takeover_s = time.monotonic() - killed_at
    # A beat stopped normally gives the lock back at once.
    stop_groups([replacement], timeout=10)
    released = client.exists(LOCK_KEY) == 0
    figures.record(
        lock_ttl_s=LOCK_TTL_S,
        takeover_after_kill_s=round(takeover_s, 2),
        lock_released_on_stop=released,
    )
    assert takeover >= 0 and takeover_s <= LOCK_TTL_S * 2 + PERIOD_S * 4 + 15
    assert released
