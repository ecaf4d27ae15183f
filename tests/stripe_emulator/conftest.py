"""Fixtures for the Stripe emulator tests: the emulator as a subprocess, a webhook receiver, a client.

These tests need no PostgreSQL, Redis or Celery: the per-test table/Redis cleanup and the migrations
of tests/conftest.py are overridden with no-ops for this folder.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from devtools.procs import free_port
from tests.harness import ManagedProcess, Stack, http_ready

SECRET = "whsec_test_emulator_secret"
API_KEY = "sk_test_emulator"


@pytest.fixture(scope="session")
def migrated() -> None:
    """No database here."""


@pytest.fixture(autouse=True)
def clean() -> None:
    """No tables or Redis to clean here (the emulator is reset by `emu` instead)."""


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local webhook endpoint that records every delivery; `fail_next` answers 500 that many times."""

    port: int
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/stripe"

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.fail_next = self.failed = 0

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item.event for item in self.received]

    def wait_for(
        self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if check(events):
                return events
            time.sleep(0.05)
        raise AssertionError(f"webhooks never matched; got {[e['type'] for e in self.events()]}")

    def wait_for_type(
        self, type_: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        events = self.wait_for(lambda evs: sum(e["type"] == type_ for e in evs) >= count, timeout)
        return [e for e in events if e["type"] == type_]


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                fail = receiver.fail_next > 0
                if fail:
                    receiver.fail_next -= 1
                    receiver.failed += 1
                else:
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body)
                    )
            self.send_response(500 if fail else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver(port=free_port())
    server = _serve(rec)
    yield rec
    server.shutdown()


@dataclass
class Emulator:
    base: str
    http: httpx.Client

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{self.base}{path}", json=body or {})

    def advance(self, days: int) -> dict[str, Any]:
        response = self.post("/_emulator/advance", {"days": days})
        assert response.status_code == 200, response.text
        return response.json()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until no webhook is queued or retrying."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http.get(f"{self.base}/_emulator/health").json()["pending_webhooks"] == 0:
                return
            time.sleep(0.05)
        raise AssertionError("webhooks still pending")


def start_emulator(stack: Stack, name: str, extra: list[str]) -> tuple[ManagedProcess, str]:
    port = free_port()
    argv = [sys.executable, "-m", "devtools.stripe_emulator", "--port", str(port), *extra]
    process = ManagedProcess(
        name=name,
        argv=argv,
        env=dict(os.environ),
        log_path=stack.tmp / "logs" / f"{name}.log",
        ready=http_ready(f"http://127.0.0.1:{port}/_emulator/health"),
        ready_timeout=20,
    )
    stack.processes.append(process)
    return process.start(), f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def emulator_process(stack: Stack, receiver: Receiver) -> Iterator[str]:
    process, base = start_emulator(
        stack,
        "stripe-emulator",
        ["--webhook-url", receiver.url, "--webhook-secret", SECRET, "--webhook-backoff", "0.2"],
    )
    yield base
    process.stop()


@pytest.fixture
def emu(emulator_process: str, receiver: Receiver) -> Iterator[Emulator]:
    """The shared emulator, reset to an empty account with chaos off, and an empty receiver."""
    with httpx.Client(timeout=10) as http:
        emulator = Emulator(emulator_process, http)
        assert emulator.post("/_emulator/reset").status_code == 200
        emulator.post("/_emulator/chaos", {"duplicate": False, "shuffle": False})
        receiver.clear()
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": emu.base}, max_network_retries=0)
