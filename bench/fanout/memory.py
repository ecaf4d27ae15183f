"""Where an idle socket's memory goes: tracemalloc in a Python peer, per socket, by source line.

Run: `.venv/bin/python -m bench.fanout.memory --clients 2000` (the peer on the fan-out engine
and the Procfile's websocket flags) or `--stock` (stock python-socketio on stock uvicorn flags).
The peer runs in a child process with tracemalloc on and a `/__memory` endpoint; the load
generator's lean clients connect and join a channel, a few first (so one-time costs are left
out), then the rest. The report is the allocations still alive that those sockets added,
divided by their number: by file, then the largest lines. Both the server and this process
stop by themselves (time limits on every wait). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from bench.fanout.loadgen import Config, connect_all, join_all, raise_nofile
from bench.fanout.wire import Recorder, SioClient
from devtools.procs import ROOT, free_port, tcp_answers

WARM = 50
SNAP_PATH = "/__memory"
TIMEOUT_S = 60.0


def wrap(app: Any) -> Any:
    """The peer app plus an endpoint that writes a tracemalloc snapshot to the path it is given."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == SNAP_PATH:
            gc.collect()
            tracemalloc.take_snapshot().dump(scope["query_string"].decode())
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await app(scope, receive, send)

    return wrapped


def serve(port: int, engine: bool) -> None:
    """The child: the python peer under uvicorn, as the fan-out bench starts it."""
    import uvicorn

    tracemalloc.start(1)
    os.environ["BENCH_FANOUT"] = "1" if engine else "0"
    from bench.fanout.peer_py import app

    ws: dict[str, Any] = (
        {"ws": "realtime.fanout:LeanWebSocketProtocol", "ws_ping_interval": 0}
        if engine
        else {"ws": "websockets-sansio"}
    )
    uvicorn.run(
        wrap(app),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_per_message_deflate=False,
        **ws,
    )


async def connect(cfg: Config, indices: range, rec: Recorder) -> list[SioClient]:
    """The load generator's own connect and join, for some of the clients."""
    clients = await connect_all(cfg, rec, indices)
    await join_all(cfg, clients)
    return clients


def snapshot(port: int, path: Path) -> tracemalloc.Snapshot:
    url = f"http://127.0.0.1:{port}{SNAP_PATH}?{path}"
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as res:
        res.read()
    return tracemalloc.Snapshot.load(str(path))


async def measure(port: int, clients: int, work: Path) -> tuple[tracemalloc.Snapshot, ...]:
    rec = Recorder()
    cfg = Config(
        host="127.0.0.1",
        ports=[port],
        clients=WARM + clients,
        channel_id=1,
        origin=f"http://localhost:{port}",
        host_header="localhost",
        cookies=[],
        connect_timeout=TIMEOUT_S,
        call_timeout=TIMEOUT_S,
    )
    warm = await connect(cfg, range(WARM), rec)
    await asyncio.sleep(1)
    before = await asyncio.to_thread(snapshot, port, work / "before.snap")
    rest = await connect(cfg, range(WARM, WARM + clients), rec)
    await asyncio.sleep(2)
    after = await asyncio.to_thread(snapshot, port, work / "after.snap")
    for client in warm + rest:
        client.close()
    return before, after


def short(filename: str) -> str:
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, clients: int, top: int
) -> str:
    lines = after.compare_to(before, "lineno")
    by_file: Counter[str] = Counter()
    for stat in lines:
        by_file[short(stat.traceback[0].filename)] += stat.size_diff
    total = sum(by_file.values()) / clients
    out = [
        f"Python objects kept per idle socket: {total:,.0f} B ({clients} sockets)",
        "",
        "| bytes/socket | file |",
        "|---|---|",
    ]
    out += [f"| {size / clients:,.0f} | `{name}` |" for name, size in by_file.most_common(top)]
    out += ["", "| bytes/socket | blocks/socket | line |", "|---|---|---|"]
    for stat in lines[:top]:
        frame = stat.traceback[0]
        out.append(
            f"| {stat.size_diff / clients:,.0f} | {stat.count_diff / clients:.2f} | "
            f"`{short(frame.filename)}:{frame.lineno}` |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=2000)
    p.add_argument("--stock", action="store_true", help="stock python-socketio and uvicorn flags")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the child's role
    args = p.parse_args(argv)
    raise_nofile()  # inherited by the child: one descriptor per socket on both sides
    if args.serve:
        serve(args.serve, engine=not args.stock)
        return 0
    port = free_port()
    argv_child = [sys.executable, "-m", "bench.fanout.memory", "--serve", str(port)]
    argv_child += ["--stock"] if args.stock else []
    server = subprocess.Popen(argv_child, cwd=ROOT)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not tcp_answers("127.0.0.1", port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the peer did not start")
            time.sleep(0.2)
        with tempfile.TemporaryDirectory() as work:
            before, after = asyncio.run(
                asyncio.wait_for(measure(port, args.clients, Path(work)), TIMEOUT_S * 5)
            )
        print(report(before, after, args.clients, args.top))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
