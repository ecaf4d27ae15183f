"""The load generator process: N lean Socket.IO clients in one channel, driven by JSON-line commands.

`python -m bench.fanout.loadgen CONFIG_JSON` connects every client (spread over the target's
ports), joins the channel, prints `{"event": "ready", ...}`, then runs one command per stdin line
(`sat`, `lat`, `quit`) and prints one JSON result line for each. It exits on `quit`, on EOF, or
when its own time limit passes, so it can never outlive the bench.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.fanout.wire import Recorder, SioClient, open_client

CONNECT_CONCURRENCY = 64
JOIN_CONCURRENCY = 64
DRAIN_MAX_S = 15.0
QUIET_S = 0.5  # a drain ends when every ack is back and nothing arrived for this long
# A chat-sized line after the stamp, so every target moves realistic frames (~600 bytes each).
FILLER = "hello everyone, this line is a fan-out benchmark message"


@dataclass
class Config:
    host: str
    ports: list[int]
    clients: int
    channel_id: int
    origin: str
    host_header: str  # sent as Host (with each port), so the server sees a name it serves
    cookies: list[str]  # one Cookie header per client, or empty (peers need no auth)
    warm_clients: int = (
        0  # connect and join these first, print "warm", wait for "go" (RSS baseline)
    )
    connect_timeout: float = 20.0
    call_timeout: float = 30.0
    lifetime_s: float = 1800.0

    @classmethod
    def from_json(cls, raw: str) -> Config:
        data = json.loads(raw)
        if "cookies_file" in data:
            with open(data.pop("cookies_file")) as fh:
                data["cookies"] = json.load(fh)["cookies"]
        return cls(**data)


@dataclass
class Sender:
    """Sends `send_message` round-robin over all clients (no user sends often enough to be limited)."""

    clients: list[SioClient]
    channel_id: int
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    k: int = 0
    outstanding: int = 0
    acked: int = 0
    acked_in_window: int = 0
    window: tuple[int, int] = (0, 1 << 62)
    errors: Counter[str] = field(default_factory=Counter)
    on_ack_hook: Any = None

    def send(self) -> None:
        client = self.clients[self.k % len(self.clients)]
        self.k += 1
        sent = time.monotonic_ns()
        payload = {
            "channel_id": self.channel_id,
            "content": f"bench:{sent}:{self.k}: {FILLER}",
            "client_msg_id": f"bench-{self.run}-{self.k}",
        }
        self.outstanding += 1
        client.emit("send_message", payload, lambda raw, sent=sent: self._acked(raw, sent))

    def _acked(self, raw: bytes, sent: int) -> None:
        self.outstanding -= 1
        if raw.startswith(b'[{"ok":true'):
            self.acked += 1
            if self.window[0] <= sent < self.window[1]:
                self.acked_in_window += 1
        else:
            ack = (json.loads(raw) or [{}])[0] or {}
            if ack.get("ok"):
                self.acked += 1
                self.acked_in_window += int(self.window[0] <= sent < self.window[1])
            else:
                self.errors[str((ack.get("error") or {}).get("code", "unknown"))] += 1
        if self.on_ack_hook is not None:
            self.on_ack_hook()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def connect_all(cfg: Config, rec: Recorder, indices: range) -> list[SioClient]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(i: int) -> SioClient:
        port = cfg.ports[i % len(cfg.ports)]
        headers = {"Host": f"{cfg.host_header}:{port}", "Origin": cfg.origin}
        if cfg.cookies:
            headers["Cookie"] = cfg.cookies[i]
        async with gate:
            return await open_client(i, cfg.host, port, headers, rec, cfg.connect_timeout)

    return list(await asyncio.gather(*(one(i) for i in indices)))


async def join_all(cfg: Config, clients: list[SioClient]) -> None:
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def one(client: SioClient) -> None:
        async with gate:
            ack = await client.call(
                "join_channel", {"channel_id": cfg.channel_id}, cfg.call_timeout
            )
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"join_channel refused for client {client.index}: {ack!r}")

    await asyncio.gather(*(one(c) for c in clients))


async def drain(rec: Recorder, sender: Sender, max_s: float = DRAIN_MAX_S) -> float:
    """Wait until every ack is back and deliveries stopped; seconds waited (at most `max_s`)."""
    started = time.monotonic()
    last, last_change = rec.deliveries, time.monotonic()
    while time.monotonic() - started < max_s:
        await asyncio.sleep(0.05)
        if rec.deliveries != last:
            last, last_change = rec.deliveries, time.monotonic()
        elif sender.outstanding == 0 and time.monotonic() - last_change >= QUIET_S:
            break
    return time.monotonic() - started


async def saturate(
    clients: list[SioClient], rec: Recorder, cfg: Config, cmd: dict[str, Any]
) -> dict[str, Any]:
    """Keep `window` messages in flight (a new send on every ack) and count deliveries in the window."""
    duration, warmup, window = (
        float(cmd["duration"]),
        float(cmd.get("warmup", 2.0)),
        int(cmd["window"]),
    )
    sender = Sender(clients, cfg.channel_id)
    t0 = time.monotonic_ns()
    w0, w1 = t0 + int(warmup * 1e9), t0 + int((warmup + duration) * 1e9)
    rec.reset()
    rec.record_latency = False
    rec.window_start_ns, rec.window_end_ns = w0, w1
    sender.window = (w0, w1)

    def refill() -> None:
        if time.monotonic_ns() < w1:
            sender.send()

    sender.on_ack_hook = refill
    for _ in range(window):
        sender.send()
    await asyncio.sleep(warmup)
    cpu0 = cpu_seconds()
    await asyncio.sleep(max(0.0, (w1 - time.monotonic_ns()) / 1e9))
    cpu1 = cpu_seconds()
    drained = await drain(rec, sender, float(cmd.get("drain_max_s", DRAIN_MAX_S)))
    acks_in_window = sender.acked_in_window
    return {
        "event": "sat",
        "duration": duration,
        "window": window,
        "deliveries": rec.counted,
        "deliveries_per_s": rec.counted / duration,
        "msgs_per_s": acks_in_window / duration,
        "fanout": rec.counted / acks_in_window if acks_in_window else 0.0,
        "other_events_per_s": rec.other_counted / duration,
        "sent": sender.k,
        "acked": sender.acked,
        "unacked": sender.outstanding,
        "errors": dict(sender.errors),
        "gen_cpu": (cpu1 - cpu0) / duration,
        "drain_s": drained,
    }


async def fixed_rate(
    clients: list[SioClient], rec: Recorder, cfg: Config, cmd: dict[str, Any]
) -> dict[str, Any]:
    """Send `rate` messages/s open-loop; latency of every delivery of a message sent in the window."""
    duration, warmup, rate = (
        float(cmd["duration"]),
        float(cmd.get("warmup", 1.0)),
        float(cmd["rate"]),
    )
    max_outstanding = int(cmd.get("max_outstanding", 2000))
    sender = Sender(clients, cfg.channel_id)
    t0 = time.monotonic_ns()
    w0, w1 = t0 + int(warmup * 1e9), t0 + int((warmup + duration) * 1e9)
    rec.reset()
    rec.record_latency = True
    rec.window_start_ns, rec.window_end_ns = w0, w1  # by send stamp, so late deliveries still count
    sender.window = (w0, w1)
    due, skipped, cpu0 = 0, 0, None
    end_s = time.monotonic() + warmup + duration
    while time.monotonic() < end_s:
        now = time.monotonic_ns()
        if cpu0 is None and now >= w0:
            cpu0 = cpu_seconds()
        target = int((now - t0) / 1e9 * rate) + 1
        while due < target:
            due += 1
            if sender.outstanding >= max_outstanding:
                skipped += 1  # the server is this far behind: an overload, reported as such
            else:
                sender.send()
        await asyncio.sleep(0.001)
    cpu1 = cpu_seconds()
    drained = await drain(rec, sender, float(cmd.get("drain_max_s", DRAIN_MAX_S)))
    rec.record_latency = False
    lat = sorted(rec.latencies_ns)
    sent_in_window = sender.acked_in_window

    def pct(q: float) -> float | None:
        return lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6 if lat else None

    expected = sent_in_window * len(clients)
    return {
        "event": "lat",
        "duration": duration,
        "rate": rate,
        "msgs_in_window": sent_in_window,
        "deliveries": len(lat),
        "fanout": len(lat) / sent_in_window if sent_in_window else 0.0,
        "missing_vs_all_clients": expected - len(lat),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": lat[-1] / 1e6 if lat else None,
        "skipped": skipped,
        "unacked": sender.outstanding,
        "errors": dict(sender.errors),
        "gen_cpu": ((cpu1 - cpu0) / duration) if cpu0 is not None else None,
        "drain_s": drained,
    }


async def commands() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def run(cfg: Config) -> None:
    rec = Recorder()
    reader = await commands()
    clients: list[SioClient] = []
    if cfg.warm_clients:
        clients = await connect_all(cfg, rec, range(cfg.warm_clients))
        await join_all(cfg, clients)
        emit({"event": "warm", "clients": len(clients)})
        line = await reader.readline()
        if not line or json.loads(line)["cmd"] != "go":
            return
    started = time.monotonic()
    rest = await connect_all(cfg, rec, range(len(clients), cfg.clients))
    connected_s = time.monotonic() - started
    await join_all(cfg, rest)
    clients += rest
    emit(
        {
            "event": "ready",
            "clients": len(clients),
            "connect_s": connected_s,
            "join_s": time.monotonic() - started - connected_s,
        }
    )
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                return
            phase = saturate if cmd["cmd"] == "sat" else fixed_rate
            result = await phase(clients, rec, cfg, cmd)
            result["errors_sockets"] = sum(
                1 for c in clients if c.errors or c.transport is None or c.transport.is_closing()
            )
            emit(result)
    finally:
        for client in clients:
            client.close()
        await asyncio.sleep(0.2)


def raise_nofile() -> None:
    """One socket per client: lift the soft open-files limit to the hard one (5,000 clients and up)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, 65536) if hard == resource.RLIM_INFINITY else hard
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main() -> int:
    cfg = Config.from_json(sys.argv[1])
    raise_nofile()
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < cfg.clients + 64:
        emit({"event": "error", "error": f"open-files limit {soft} is below {cfg.clients} clients"})
        return 1
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio works too, only slower
        pass
    try:
        asyncio.run(asyncio.wait_for(run(cfg), cfg.lifetime_s))
    except Exception as exc:
        emit({"event": "error", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
