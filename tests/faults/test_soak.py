"""Soak: sockets in many channels at a steady rate on two web processes, with Mattermost's
load-test pass marks: 5xx <= 0.025 %, p99 delivery < 2 s, no socket dropped, RSS flat.

The generator is bench/load's (`python -m bench.load` runs the same on a stack of its own); here
it drives the session's two web processes. Full scale (`make faults`): 1,000 sockets in 50
channels, 100 messages/s for 10 minutes, and the memory curve goes to docs/img/soak_memory.png.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.fanout.loadgen import raise_nofile
from bench.load.seed import seed_soak
from bench.load.soak import SoakConfig, channel_plan, plot_memory, run_soak, title_of, verdicts
from tests.faults.conftest import FULL, REPORT_PATH, scaled

SOCKETS = scaled(200, 1_000)
CHANNELS = scaled(10, 50)
RATE = scaled(20, 100)
DURATION = scaled(60, 600)
WARMUP = scaled(15, 60)
PNG = Path(__file__).resolve().parents[2] / "docs" / "img" / "soak_memory.png"


@pytest.mark.timeout(scaled(240, 1200))
async def test_soak(live_server, second_server, db, figures, tmp_path):
    raise_nofile()
    seeded = await seed_soak(SOCKETS, CHANNELS)
    servers = [live_server, second_server]
    pids = [s.process.proc.pid for s in servers if s.process.proc is not None]
    cfg = SoakConfig(
        host="127.0.0.1",
        ports=[s.port for s in servers],
        origin=live_server.weokto_url,
        host_header="localhost",
        cookies=seeded.cookies,
        channel_of=channel_plan(SOCKETS, seeded.channel_ids),
        rate=RATE,
        duration=DURATION,
        warmup=WARMUP,
        rss_pids=pids,
        rest_rate=scaled(2, 5),
    )
    result = await run_soak(cfg)
    for server in servers:
        assert server.process.alive, server.process.log_tail(30)
    checks = verdicts(result)
    png = PNG if FULL else tmp_path / "soak_memory.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    busy = result.load1_mean > result.cores
    plot_memory(result, png, title_of(result, "loaded machine" if busy else ""))
    REPORT_PATH.parent.mkdir(exist_ok=True)
    (REPORT_PATH.parent / f"soak-{'full' if FULL else 'ci'}.json").write_text(
        json.dumps({"summary": result.summary(), "samples": [asdict(s) for s in result.samples]})
    )
    figures.record(
        sockets=result.sockets,
        channels=result.channels,
        processes=result.processes,
        rate=result.rate,
        duration_s=result.duration,
        messages=result.acked,
        ack_errors=result.ack_errors,
        rest_requests=result.rest_requests,
        server_errors=result.server_errors,
        error_ratio=f"{result.error_ratio:.4%}",
        deliveries=result.deliveries,
        expected_deliveries=result.expected_deliveries,
        p50_ms=round(result.p50_ms or 0, 1),
        p99_ms=round(result.p99_ms or 0, 1),
        max_ms=round(result.max_ms or 0, 1),
        dropped=result.dropped,
        foreign_messages=result.foreign_messages,
        rss_start_mib=round(result.rss_start / 2**20, 1),
        rss_end_mib=round(result.rss_end / 2**20, 1),
        rss_growth=f"{result.rss_growth:+.2%}",
        load1_mean=round(result.load1_mean, 2),
        server_cpu=result.server_cpu,
        generator_cpu=result.generator_cpu,
        other_events=result.other_events,
        loaded_machine=busy,
        memory_png=str(png),
        bound="5xx <= 0.025%, p99 delivery < 2 s, 0 dropped sockets, RSS growth < 5%",
    )
    failed = [f"{v.name}={v.value:.6g} (bound {v.bound})" for v in checks if not v.ok]
    assert not failed, f"{failed}; dropped: {result.dropped_detail[:5]}"
