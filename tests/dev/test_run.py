"""`make run`: crashed children are restarted with backoff, ports are held from their choice to
their server, an explicit webhook secret is kept."""

from __future__ import annotations

import io
import os
import smtplib
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools import run as run_module
from devtools.embedded import Services
from devtools.procs import (
    free_port,
    http_status,
    port_is_free,
    reserve_port,
    spawn,
    stop_groups,
    wait_until,
)
from devtools.stack import procfile_argv, stack_env
from devtools.supervisor import Backoff, ProcfileEntry, Supervisor

PY = sys.executable
CRASH = f"{PY} -c 'import sys; sys.exit(3)'"
STEADY = f"{PY} -c 'import time; time.sleep(60)'"
FAST = Backoff(first=0.1, most=0.4, healthy_after=60)


def _services() -> Services:
    return Services(
        database_url="postgresql://x@127.0.0.1/x", redis_url="redis://127.0.0.1:1/0", started=[]
    )


def test_an_explicit_webhook_secret_is_not_replaced_by_the_emulators():
    mine = stack_env(
        {"STRIPE_WEBHOOK_SECRET": "whsec_mine"},
        _services(),
        port=1,
        smtp_port=2,
        app_env="dev",
        stripe_port=3,
    )
    assert mine["STRIPE_WEBHOOK_SECRET"] == "whsec_mine"
    assert mine["STRIPE_API_BASE"] == "http://127.0.0.1:3"  # the emulator is still used
    assert "whsec_mine" in procfile_argv("stripe", mine)  # and signs with that secret
    default = stack_env({}, _services(), port=1, smtp_port=2, app_env="dev", stripe_port=3)
    assert default["STRIPE_WEBHOOK_SECRET"] == "whsec_local_emulator"


def test_a_chosen_port_is_held_until_its_server_takes_it():
    base = free_port()
    first = run_module.choose_port({}, "SMTP_PORT", base, span=20)
    try:
        port = run_module.port_of(first)
        assert not port_is_free(port)  # nobody (a second run included) can bind it now
        second = run_module.choose_port({}, "SMTP_PORT", port, span=20)
        try:
            assert run_module.port_of(second) != port
        finally:
            second.close()
        with pytest.raises(run_module.RunError):
            run_module.choose_port({"SMTP_PORT": str(port)}, "SMTP_PORT", 2525)
    finally:
        first.close()


@pytest.mark.parametrize("entry", ["mail", "stripe"])
def test_a_server_of_ours_serves_on_the_socket_held_for_it(tmp_path: Path, entry: str):
    held = reserve_port()
    assert held is not None
    port = held.getsockname()[1]
    port_var, fd_var = {
        "mail": ("SMTP_PORT", "SMTP_LISTEN_FD"),
        "stripe": ("STRIPE_PORT", "STRIPE_LISTEN_FD"),
    }[entry]
    env = {
        **os.environ,
        "PORT": "1",
        "DATA_DIR": str(tmp_path),
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        port_var: str(port),
        fd_var: str(held.fileno()),
    }
    answers = _smtp_answers if entry == "mail" else _http_answers
    with open(tmp_path / "server.log", "wb") as log:
        proc = spawn(procfile_argv(entry, env), env, stdout=log, pass_fds=(held.fileno(),))
    try:
        # Were it to bind the port itself, it would find it taken (by `held`) and exit.
        wait_until(lambda: answers(port), 30, entry, alive=lambda: proc.poll() is None)
    finally:
        stop_groups([proc], timeout=5)
        held.close()


def _http_answers(port: int) -> bool:
    return http_status(f"http://127.0.0.1:{port}/_emulator/health", timeout=2) == 200


def _smtp_answers(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
            return client.ehlo()[0] == 250
    except OSError:
        return False


def _sup(**kw: object) -> Supervisor:
    return Supervisor({**os.environ}, out=io.StringIO(), color=False, backoff=FAST, **kw)


def test_a_crashed_child_is_restarted_with_a_growing_backoff_and_the_others_run_on():
    sup = _sup()
    sup.start([ProcfileEntry("crash", CRASH), ProcfileEntry("steady", STEADY)])
    steady_pid = sup.children["steady"].pid
    delays: list[float] = []
    try:
        deadline = time.monotonic() + 10
        while len(delays) < 4 and time.monotonic() < deadline:
            dead = sup.exited()
            if dead is not None:
                assert dead == ("crash", 3)
                delays.append(sup.schedule_restart("crash"))
            sup.restart_due()
            time.sleep(0.02)
        assert delays == [0.1, 0.2, 0.4, 0.4]
        assert sup.children["steady"].pid == steady_pid and sup.children["steady"].poll() is None
    finally:
        sup.stop(timeout=5)
    assert "started crash" in sup.out.getvalue()  # type: ignore[attr-defined]


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def readyz() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _watch(sup: Supervisor, port: int) -> tuple[threading.Event, threading.Thread, list[int]]:
    sup.env.update(
        PORT=str(port),
        WEOKTO_BASE_URL=f"http://localhost:{port}",
        STAM_BASE_URL=f"http://stam.localhost:{port}",
        SMTP_PORT="0",
    )
    stop, result = threading.Event(), []
    thread = threading.Thread(
        target=lambda: result.append(run_module.watch(sup, stop, time.time())), daemon=True
    )
    thread.start()
    return stop, thread, result


@pytest.mark.parametrize("who", ["worker", "web"])
def test_the_run_restarts_a_crashed_process_once_the_stack_is_up(readyz, who):
    sup = _sup()
    flaky = f"{PY} -c 'import time; time.sleep(1); raise SystemExit(1)'"
    entries = {"web": STEADY, "worker": STEADY, who: flaky}
    sup.start([ProcfileEntry(name, cmd) for name, cmd in entries.items()])
    first_pid = sup.children[who].pid
    stop, thread, result = _watch(sup, readyz)
    try:
        wait_until(lambda: sup.children[who].pid != first_pid, 10, f"{who} restarted")
        assert thread.is_alive() and result == []  # the run goes on
    finally:
        stop.set()
        thread.join(10)
        sup.stop(timeout=5)
    assert result == [0]
    assert f"{who} exited unexpectedly (code 1): restarting" in sup.out.getvalue()  # type: ignore[attr-defined]


def test_a_web_process_that_cannot_start_stops_the_run():
    sup = _sup()
    sup.start([ProcfileEntry("web", CRASH), ProcfileEntry("worker", STEADY)])
    stop, thread, result = _watch(sup, free_port())  # nothing answers: never ready
    thread.join(10)
    sup.stop(timeout=5)
    assert result == [1]
    assert "web exited at start (code 3)" in sup.out.getvalue()  # type: ignore[attr-defined]


def test_a_free_port_is_never_one_the_kernel_may_give_an_outgoing_connection():
    from devtools.procs import ephemeral_ports

    low, high = ephemeral_ports()
    ports = {free_port() for _ in range(20)}
    assert all(not low <= port <= high for port in ports), ports
    assert len(ports) > 1  # spread out: two runs choosing at once rarely meet
