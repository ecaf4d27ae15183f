"""LOG_JSON=1 makes every line of the web, worker and beat processes one JSON object."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from devtools.procs import free_port, http_status, spawn, stop_groups, wait_until
from devtools.stack import procfile_argv


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


@pytest.mark.parametrize("entry", ["web", "worker", "beat"])
def test_log_json_makes_every_line_json(stack, migrated, tmp_path: Path, entry: str):
    port = free_port()
    env = {**stack.env, "LOG_JSON": "1", "PORT": str(port), "DATA_DIR": str(tmp_path)}
    argv = procfile_argv(entry, env)
    if entry == "worker":
        argv += ["-n", f"logs-{time.monotonic_ns()}@localhost", "-Q", "logs-probe"]
    log_path = tmp_path / f"{entry}.log"
    with open(log_path, "wb") as log:
        proc = spawn(argv, env, stdout=log)
    try:
        if entry == "web":
            url = f"http://127.0.0.1:{port}/healthz"
            wait_until(
                lambda: http_status(url) == 200, 60, "web", alive=lambda: proc.poll() is None
            )
            httpx.get(f"http://127.0.0.1:{port}/no-such-page")
        marker = {"web": "request", "worker": "ready", "beat": "beat"}[entry]
        wait_until(
            lambda: marker in log_path.read_text(errors="replace"),
            60,
            f"{entry} logging",
            alive=lambda: proc.poll() is None,
        )
    finally:
        stop_groups([proc], timeout=10)
    lines = _lines(log_path)
    assert lines
    not_json = []
    for line in lines:
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            not_json.append(line)
    assert not_json == [], f"{entry}: lines that are not JSON"
    assert any(json.loads(line).get("level") for line in lines)
