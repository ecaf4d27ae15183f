"""Soak run on a stack of its own: `python -m bench.load --sockets 1000 --channels 50 --rate 100
--duration 600 --procs 2`.

Starts Redis (embedded, its own: other runs on the machine share nothing with it) and uses the
PostgreSQL of DATABASE_URL (database `weokto_bench_soak`) or an embedded one, migrates, seeds
users, channels and sessions, starts the web processes of the Procfile, runs the generator of
bench/load/soak.py, and writes the figures (JSON) and the memory curve (PNG). Every process it
starts is stopped at the end. Exit status 1 when a threshold is missed (with `--check`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.fanout.loadgen import raise_nofile
from bench.load.soak import SoakConfig, channel_plan, plot_memory, run_soak, title_of, verdicts
from devtools.embedded import Services, resolve_services, with_database
from devtools.procs import ROOT, free_port, http_status, spawn, stop_groups, tail, wait_until
from devtools.stack import migrate_argv, procfile_argv, stack_env

BENCH_DB = "weokto_bench_soak"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    p.add_argument("--sockets", type=int, default=1000)
    p.add_argument("--channels", type=int, default=50)
    p.add_argument("--rate", type=float, default=100.0, help="messages per second, all channels")
    p.add_argument("--duration", type=float, default=600.0, help="seconds of sending")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds left out of the figures")
    p.add_argument("--procs", type=int, default=2, help="web processes")
    p.add_argument("--rest-rate", type=float, default=5.0, help="history requests per second")
    p.add_argument("--sample-every", type=float, default=3.0, help="seconds between RSS samples")
    p.add_argument("--png", type=Path, default=ROOT / "docs" / "img" / "soak_memory.png")
    p.add_argument("--json", type=Path, default=ROOT / ".faults" / "soak.json")
    p.add_argument("--note", default="", help="added to the figure's title (e.g. 'loaded machine')")
    p.add_argument("--check", action="store_true", help="exit 1 when a threshold is missed")
    return p.parse_args(argv)


def progress(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def services_for(work: Path) -> Services:
    env: dict[str, str] = {}
    if os.environ.get("DATABASE_URL"):  # never write soak rows into the caller's database
        env["DATABASE_URL"] = with_database(os.environ["DATABASE_URL"], BENCH_DB)
    return resolve_services(work / "svc", env, db_name=BENCH_DB, persist_redis=False)


def web_env(
    services: Services, work: Path, port: int, first_port: int, secret: str
) -> dict[str, str]:
    env = stack_env(os.environ, services, port=port, smtp_port=free_port(), app_env="production")
    env.update(
        SECRET_KEY=secret,
        WEOKTO_BASE_URL=f"http://localhost:{first_port}",
        STAM_BASE_URL=f"http://stam.localhost:{first_port}",
        LOG_JSON="1",
        DATA_DIR=str(work / "data"),
    )
    return env


def run(args: argparse.Namespace, work: Path, procs: list[Any]) -> dict[str, Any]:
    progress(f"services (work dir {work})")
    services = services_for(work)
    try:
        ports = [free_port() for _ in range(args.procs)]
        secret = secrets.token_urlsafe(32)
        envs = [web_env(services, work, port, ports[0], secret) for port in ports]
        done = subprocess.run(
            migrate_argv(), env=envs[0], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"migrations failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        os.environ.update(envs[0])  # before the first import of settings (seeding in-process)
        seeded = asyncio.run(seed(args.sockets, args.channels))
        progress(f"seeded {args.sockets} users in {args.channels} channels")
        for i, (port, env) in enumerate(zip(ports, envs, strict=True)):
            log = work / f"web-{i}.log"
            with open(log, "ab") as out:
                proc = spawn(procfile_argv("web", env), env, stdout=out)
            procs.append(proc)
            wait_until(healthy(port), 120, f"web {i}", alive=running(proc), interval=0.2)
        progress(f"{args.procs} web processes up; {args.duration:g} s at {args.rate:g} msg/s")
        cfg = SoakConfig(
            host="127.0.0.1",
            ports=ports,
            origin=f"http://localhost:{ports[0]}",
            host_header="localhost",
            cookies=seeded.cookies,
            channel_of=channel_plan(args.sockets, seeded.channel_ids),
            rate=args.rate,
            duration=args.duration,
            warmup=args.warmup,
            rss_pids=[p.pid for p in procs],
            sample_every=args.sample_every,
            rest_rate=args.rest_rate,
        )
        result = asyncio.run(run_soak(cfg))
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                raise RuntimeError(f"web {i} died; log:\n{tail(work / f'web-{i}.log', 30)}")
        return {"result": result, "cfg": cfg}
    finally:
        stop_groups(procs)
        services.stop()


def healthy(port: int) -> Callable[[], bool]:
    return lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200


def running(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is None


async def seed(sockets: int, channels: int) -> Any:
    from bench.load.seed import seed_soak
    from db.engine import close_pool, open_pool

    await open_pool(max_size=2)
    try:
        return await seed_soak(sockets, channels)
    finally:
        await close_pool()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()  # one descriptor per socket, here and in the servers
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    procs: list[Any] = []
    out = run(args, work, procs)
    result = out["result"]
    checks = verdicts(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": "python -m bench.load "
                + " ".join(sys.argv[1:] if argv is None else argv),
                "summary": result.summary(),
                "verdicts": [asdict(v) for v in checks],
                "samples": [asdict(s) for s in result.samples],
            },
            indent=2,
        )
    )
    args.png.parent.mkdir(parents=True, exist_ok=True)
    plot_memory(result, args.png, title_of(result, args.note))
    print(json.dumps(result.summary(), indent=2))
    for v in checks:
        print(f"{'ok  ' if v.ok else 'FAIL'} {v.name} = {v.value:.6g} ({v.bound})")
    progress(f"figures in {args.json}, memory curve in {args.png}")
    return 1 if args.check and not all(v.ok for v in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
