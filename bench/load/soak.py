"""The soak generator: many sockets in many channels, a steady message rate, a little REST, for
minutes, while the web processes' memory is sampled.

One asyncio loop drives every socket with the fan-out bench's lean Socket.IO client (one Protocol
per socket, no task per frame), so a thousand sockets and a few thousand deliveries a second fit
on one core. `run_soak` is what both `python -m bench.load` and the fault suite call; it measures
and reports, and judges nothing (the callers hold the thresholds).

Measured: every delivery's latency from the send stamp in its content (`bench:<ns>:`) to its
arrival; server-side error answers (socket acks `internal_error` or `unavailable`, the
socket's 500 and 503; HTTP 5xx; requests that got no answer) out of all sends and requests;
sockets that closed or errored before the end; the RSS of each web process (with its children)
every few seconds.
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import psutil

from bench.fanout.loadgen import FILLER
from bench.fanout.wire import NEW_MESSAGE, Recorder, SioClient

CONNECT_CONCURRENCY = 32
# Error acks that are the server's fault (what 500 and 503 are over HTTP); refusals such as
# rate_limited are answers, not errors.
SERVER_ACK_CODES = ("internal_error", "unavailable")
DRAIN_S = 10.0  # after the last send: wait this long at most for acks and deliveries
QUIET_S = 1.0


@dataclass
class SoakConfig:
    host: str
    ports: list[int]
    origin: str  # an allowed Origin (the platform's base URL)
    host_header: str  # sent as Host (with each port), so the server sees a platform it serves
    cookies: list[str]  # one Cookie header per socket
    channel_of: list[int]  # the channel each socket joins (and sends to)
    rate: float  # messages per second, over all channels
    duration: float  # seconds of steady sending
    warmup: float  # seconds at the start excluded from latencies and the memory baseline
    rss_pids: list[int]  # the web processes whose RSS is sampled
    sample_every: float = 3.0
    rest_rate: float = 2.0  # history requests per second, spread over the sockets' users
    connect_timeout: float = 30.0
    call_timeout: float = 30.0


@dataclass
class RssSample:
    t: float  # seconds since sending started (negative: while connecting)
    rss: list[int]  # bytes, one per web process
    cpu: list[float]  # CPU seconds used so far, one per web process
    load1: float  # the machine's 1-minute load average (neighbours show up here)


@dataclass
class SoakResult:
    sockets: int
    channels: int
    processes: int
    rate: float
    duration: float
    warmup: float
    connect_s: float
    sent: int
    acked: int
    ack_errors: dict[str, int]
    rest_requests: int
    rest_status: dict[str, int]
    server_errors: int  # SERVER_ACK_CODES acks + HTTP 5xx + requests without an answer
    error_ratio: float  # server_errors / (sends + requests)
    deliveries: int  # of messages sent after the warm-up
    expected_deliveries: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    dropped: int
    dropped_detail: list[str]
    foreign_messages: int  # pushed by other runs sharing the Redis server, left out
    other_events: int  # broadcasts other than messages (channel_activity to the guild, presence)
    server_cpu: list[float]  # CPU seconds per second of each web process while sending
    generator_cpu: float  # the same for this process (it shares the machine with the servers)
    samples: list[RssSample] = field(default_factory=list)
    rss_start: int = 0  # the median of the samples just after the warm-up
    rss_end: int = 0  # the median of the last samples
    rss_growth: float = 0.0
    load1_mean: float = 0.0
    cores: int = 0

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("samples")
        return out


class Stamped(Recorder):
    """The lean client's recorder with latencies in a flat array (a million fit in 8 MB)."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies_ns = array.array("q")  # type: ignore[assignment]
        self.foreign = 0  # messages of other runs pushed into rooms of the same names


class SoakClient(SioClient):
    """The lean client, counting only this run's messages: other runs on the machine may share
    the Redis server, whose pub/sub channels are not per database, and push into rooms of the
    same names. A message of this run carries the run's mark in its client_msg_id."""

    mark = b""

    def _on_text(self, p: bytes) -> None:
        if p.startswith(NEW_MESSAGE) and self.mark not in p:
            if isinstance(self.rec, Stamped):
                self.rec.foreign += 1
            return
        super()._on_text(p)


async def open_soak_client(
    index: int, cfg: SoakConfig, port: int, headers: dict[str, str], rec: Recorder, mark: bytes
) -> SoakClient:
    loop = asyncio.get_running_loop()

    def make() -> SoakClient:
        client = SoakClient(index, cfg.host, port, headers, rec)
        client.mark = mark
        return client

    _transport, client = await asyncio.wait_for(
        loop.create_connection(make, cfg.host, port), cfg.connect_timeout
    )
    await asyncio.wait_for(asyncio.shield(client.connected), cfg.connect_timeout)
    return client


def tree_rss(pid: int) -> int:
    """RSS of a process and its children (a server started through a wrapper)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def cpu_rates(samples: Sequence[RssSample], start: float, end: float) -> list[float]:
    """CPU seconds per second of each process between the samples nearest `start` and `end`."""
    inside = [s for s in samples if start <= s.t <= end]
    if len(inside) < 2:
        return []
    a, b = inside[0], inside[-1]
    return [round((y - x) / max(b.t - a.t, 1e-9), 3) for x, y in zip(a.cpu, b.cpu, strict=True)]


def rss_baseline(samples: Sequence[RssSample], warmup: float, duration: float) -> tuple[int, int]:
    """(start, end) total RSS: the median over the first tenth after the warm-up, and over the
    last tenth of the run; medians, so one sample taken mid-GC does not decide."""
    span = max(duration - warmup, 1.0) / 10
    total = [(s.t, sum(s.rss)) for s in samples]
    first = [r for t, r in total if warmup <= t <= warmup + max(span, 6.0)]
    last = [r for t, r in total if t >= duration - max(span, 6.0)]
    if not first or not last:
        return 0, 0
    return int(statistics.median(first)), int(statistics.median(last))


def percentile(sorted_ns: Sequence[int], q: float) -> float | None:
    if not sorted_ns:
        return None
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e6


class Soak:
    def __init__(self, cfg: SoakConfig) -> None:
        self.cfg = cfg
        self.rec = Stamped()
        self.clients: list[SoakClient] = []
        self.run = uuid.uuid4().hex[:8]
        self.mark = f"soak-{self.run}-".encode()
        self.k = 0
        self.outstanding = 0
        self.acked = 0
        self.errors: Counter[str] = Counter()
        self.sent_in_window: Counter[int] = Counter()  # channel -> messages acked
        self.rest_status: Counter[str] = Counter()
        self.samples: list[RssSample] = []
        self.t0 = 0.0
        self.window = (0, 0)
        self.members = Counter(cfg.channel_of)
        self.generator_cpu = 0.0

    async def connect(self) -> float:
        cfg, gate = self.cfg, asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(i: int) -> SoakClient:
            port = cfg.ports[i % len(cfg.ports)]
            headers = {
                "Host": f"{cfg.host_header}:{port}",
                "Origin": cfg.origin,
                "Cookie": cfg.cookies[i],
            }
            async with gate:
                client = await open_soak_client(i, cfg, port, headers, self.rec, self.mark)

                ack = await client.call(
                    "join_channel", {"channel_id": cfg.channel_of[i]}, cfg.call_timeout
                )
            if not (isinstance(ack, dict) and ack.get("ok")):
                raise RuntimeError(f"socket {i}: join_channel refused: {ack!r}")
            return client

        started = time.monotonic()
        self.clients = list(await asyncio.gather(*(one(i) for i in range(len(cfg.cookies)))))
        return time.monotonic() - started

    def send(self) -> None:
        client = self.clients[self.k % len(self.clients)]
        self.k += 1
        channel = self.cfg.channel_of[client.index]
        sent = time.monotonic_ns()
        payload = {
            "channel_id": channel,
            "content": f"bench:{sent}:{self.k}: {FILLER}",
            "client_msg_id": f"soak-{self.run}-{self.k}",
        }
        self.outstanding += 1

        def acked(raw: bytes) -> None:
            self.outstanding -= 1
            if raw.startswith(b'[{"ok":true'):
                self.acked += 1
                if self.window[0] <= sent < self.window[1]:
                    self.sent_in_window[channel] += 1
                return
            ack = (json.loads(raw) or [{}])[0] or {}
            self.errors[str((ack.get("error") or {}).get("code", "unknown"))] += 1

        client.emit("send_message", payload, acked)

    async def sender(self) -> None:
        cfg, due = self.cfg, 0
        end = self.t0 + cfg.duration
        while (now := time.monotonic()) < end:
            target = int((now - self.t0) * cfg.rate) + 1
            while due < target:
                due += 1
                self.send()
            await asyncio.sleep(0.005)

    async def rest(self) -> None:
        """Channel history pages at `rest_rate`, as readers scrolling back would ask."""
        cfg = self.cfg
        if cfg.rest_rate <= 0:
            return
        end = self.t0 + cfg.duration
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(timeout=cfg.call_timeout, limits=limits) as http:
            n = 0
            pending: set[asyncio.Task[None]] = set()
            while time.monotonic() < end:
                i = n % len(cfg.cookies)
                port = cfg.ports[n % len(cfg.ports)]
                url = f"http://{cfg.host}:{port}/api/channels/{cfg.channel_of[i]}/messages"
                headers = {"Host": f"{cfg.host_header}:{port}", "Cookie": cfg.cookies[i]}
                task = asyncio.create_task(self._get(http, url, headers))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
                await asyncio.sleep(1 / cfg.rest_rate)
            if pending:
                await asyncio.wait(pending, timeout=cfg.call_timeout)

    async def _get(self, http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        try:
            res = await http.get(url, params={"limit": 20}, headers=headers)
            self.rest_status[str(res.status_code)] += 1
        except httpx.HTTPError as exc:
            self.rest_status[type(exc).__name__] += 1

    async def sampler(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.samples.append(
                RssSample(
                    t=round(time.monotonic() - self.t0, 2),
                    rss=[tree_rss(pid) for pid in self.cfg.rss_pids],
                    cpu=[tree_cpu(pid) for pid in self.cfg.rss_pids],
                    load1=os.getloadavg()[0],
                )
            )
            try:
                await asyncio.wait_for(stop.wait(), self.cfg.sample_every)
            except TimeoutError:
                pass

    async def drain(self) -> None:
        started = time.monotonic()
        last, last_change = self.rec.deliveries, time.monotonic()
        while time.monotonic() - started < DRAIN_S:
            await asyncio.sleep(0.1)
            if self.rec.deliveries != last:
                last, last_change = self.rec.deliveries, time.monotonic()
            elif self.outstanding == 0 and time.monotonic() - last_change >= QUIET_S:
                break

    def dropped(self) -> list[str]:
        out = []
        for c in self.clients:
            closed = c.transport is None or c.transport.is_closing() or c.closed.done()
            if closed or c.errors:
                out.append(f"socket {c.index}: {'; '.join(c.errors) or 'closed'}")
        return out

    async def go(self) -> SoakResult:
        cfg = self.cfg
        self.t0 = time.monotonic()  # provisional: samples during connect get negative times
        stop = asyncio.Event()
        sampling = asyncio.create_task(self.sampler(stop))
        connect_s = await self.connect()
        shift = time.monotonic() - self.t0
        for s in self.samples:
            s.t = round(s.t - shift, 2)
        self.t0 = time.monotonic()
        t0_ns = time.monotonic_ns()
        self.window = (t0_ns + int(cfg.warmup * 1e9), t0_ns + int(cfg.duration * 1e9))
        self.rec.window_start_ns, self.rec.window_end_ns = self.window
        self.rec.record_latency = True
        cpu0 = own_cpu()
        await asyncio.gather(self.sender(), self.rest())
        self.generator_cpu = (own_cpu() - cpu0) / cfg.duration
        await self.drain()
        dropped = self.dropped()
        stop.set()
        await sampling
        for c in self.clients:
            c.close()
        return self.result(connect_s, dropped)

    def result(self, connect_s: float, dropped: list[str]) -> SoakResult:
        cfg = self.cfg
        lat = sorted(self.rec.latencies_ns)
        server_errors = sum(self.errors.get(code, 0) for code in SERVER_ACK_CODES) + sum(
            n for code, n in self.rest_status.items() if not code.isdigit() or int(code) >= 500
        )
        requests = sum(self.rest_status.values())
        start, end = rss_baseline(self.samples, cfg.warmup, cfg.duration)
        expected = sum(n * self.members[ch] for ch, n in self.sent_in_window.items())
        return SoakResult(
            sockets=len(self.clients),
            channels=len(self.members),
            processes=len(cfg.ports),
            rate=cfg.rate,
            duration=cfg.duration,
            warmup=cfg.warmup,
            connect_s=round(connect_s, 1),
            sent=self.k,
            acked=self.acked,
            ack_errors=dict(self.errors),
            rest_requests=requests,
            rest_status=dict(self.rest_status),
            server_errors=server_errors,
            error_ratio=server_errors / max(1, self.k + requests),
            deliveries=len(lat),
            expected_deliveries=expected,
            p50_ms=percentile(lat, 0.50),
            p90_ms=percentile(lat, 0.90),
            p99_ms=percentile(lat, 0.99),
            max_ms=lat[-1] / 1e6 if lat else None,
            dropped=len(dropped),
            dropped_detail=dropped[:20],
            foreign_messages=self.rec.foreign,
            other_events=self.rec.other_events,
            server_cpu=cpu_rates(self.samples, 0.0, cfg.duration),
            generator_cpu=round(self.generator_cpu, 3),
            samples=self.samples,
            rss_start=start,
            rss_end=end,
            rss_growth=(end - start) / start if start else 0.0,
            load1_mean=statistics.fmean(s.load1 for s in self.samples) if self.samples else 0.0,
            cores=os.cpu_count() or 0,
        )


async def run_soak(cfg: SoakConfig) -> SoakResult:
    """Connect, join, send at the rate for the duration, drain; every wait is bounded."""
    limit = cfg.duration + cfg.connect_timeout * 4 + DRAIN_S + 60
    return await asyncio.wait_for(Soak(cfg).go(), limit)


def channel_plan(sockets: int, channels: Sequence[int]) -> list[int]:
    """Socket i joins channel i mod N: every channel gets the same number of sockets."""
    return [channels[i % len(channels)] for i in range(sockets)]


def plot_memory(result: SoakResult, path: os.PathLike[str] | str, title: str) -> None:
    """RSS of each web process over the run, the warm-up shaded, the baseline and the end marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result.samples
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ts = [s.t for s in samples]
    for i in range(result.processes):
        ax.plot(ts, [s.rss[i] / 2**20 for s in samples], label=f"web process {i + 1}")
    ax.plot(ts, [sum(s.rss) / 2**20 for s in samples], label="total", color="black", lw=1.6)
    ax.axvspan(min(ts + [0.0]), result.warmup, color="0.9", label="connect + warm-up")
    for value, style, name in (
        (result.rss_start, ":", "after warm-up"),
        (result.rss_end, "--", "end"),
    ):
        if value:
            ax.axhline(value / 2**20, ls=style, color="grey", lw=1, label=f"{name} (median)")
    ax.set_xlabel("seconds since sending started")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def title_of(result: SoakResult, note: str = "") -> str:
    growth = f"{result.rss_growth:+.1%}"
    d = result.duration
    span = f"{d / 60:.0f} min" if d >= 120 else f"{d:.0f} s"
    head = (
        f"Soak: {result.sockets} sockets, {result.channels} channels, {result.rate:g} msg/s, "
        f"{span}, {result.processes} web processes"
    )
    tail = f"p99 delivery {result.p99_ms or 0:.0f} ms, RSS growth after warm-up {growth}"
    return f"{head}\n{tail}{'; ' + note if note else ''}"


# Mattermost's load-test pass marks, as the soak applies them.
MAX_ERROR_RATIO = 0.00025  # 5xx (and internal_error acks) <= 0.025 % of sends and requests
MAX_P99_MS = 2000.0
MAX_RSS_GROWTH = 0.05


@dataclass
class Verdict:
    name: str
    value: float
    bound: str
    ok: bool


def verdicts(result: SoakResult) -> list[Verdict]:
    p99 = result.p99_ms if result.p99_ms is not None else float("inf")
    return [
        Verdict(
            "error_ratio",
            result.error_ratio,
            f"<= {MAX_ERROR_RATIO:.3%}",
            result.error_ratio <= MAX_ERROR_RATIO,
        ),
        Verdict("p99_delivery_ms", p99, f"< {MAX_P99_MS:.0f}", p99 < MAX_P99_MS),
        Verdict("dropped_sockets", result.dropped, "== 0", result.dropped == 0),
        Verdict(
            "rss_growth",
            result.rss_growth,
            f"< {MAX_RSS_GROWTH:.0%}",
            result.rss_growth < MAX_RSS_GROWTH,
        ),
        # Nothing measured would pass every bound above vacuously.
        Verdict("deliveries", result.deliveries, "> 0", result.deliveries > 0),
    ]
