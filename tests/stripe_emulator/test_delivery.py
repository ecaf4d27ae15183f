"""Webhook delivery: retries after failures, the duplicate/shuffle chaos switch, persisted state."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import stripe

from tests.harness import Stack
from tests.stripe_emulator.conftest import API_KEY, SECRET, Emulator, Receiver, start_emulator
from tests.stripe_emulator.flows import subscribe


def test_webhook_is_retried_after_a_500(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    receiver.fail_next = 1
    customer = client.v1.customers.create({"email": "r@example.com"})  # the API answers at once
    event = receiver.wait_for_type("customer.created")[0]
    assert event["data"]["object"]["id"] == customer.id and receiver.failed == 1
    emu.settle()  # the receiver may record before the emulator logs the 200
    log = emu.http.get(f"{emu.base}/_emulator/deliveries").json()["data"]
    attempts = [
        (entry["attempt"], entry["status"]) for entry in log if entry["event_id"] == event["id"]
    ]
    assert attempts == [(1, 500), (2, 200)]


def test_unreachable_endpoint_never_blocks_the_api(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    emu.post("/_emulator/webhook", {"url": "http://127.0.0.1:9/closed"})
    try:
        started = time.monotonic()
        client.v1.customers.create({"email": "down@example.com"})
        assert time.monotonic() - started < 1.0
        log: list[dict] = []
        while not log and time.monotonic() - started < 5:
            log = emu.http.get(f"{emu.base}/_emulator/deliveries").json()["data"]
        assert log and log[0]["error"] and log[0]["status"] is None
    finally:
        emu.post("/_emulator/webhook", {"url": receiver.url})


def test_chaos_duplicates_and_shuffles(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    assert emu.post("/_emulator/chaos", {"duplicate": True, "shuffle": True}).status_code == 200
    subscribe(client, emu)
    emu.settle()
    ids = [event["id"] for event in receiver.events()]
    counts = Counter(ids)
    assert len(counts) >= 10 and set(counts.values()) == {2}  # every event exactly twice
    created_order = [e.id for e in reversed(client.v1.events.list({"limit": 100}).data)]
    first_seen = list(dict.fromkeys(ids))
    assert sorted(first_seen) == sorted(created_order) and first_seen != created_order


def test_state_persists_across_restarts(stack: Stack, tmp_path: Path) -> None:
    data = tmp_path / "stripe"
    process, base = start_emulator(stack, "stripe-emulator-persist", ["--data", str(data)])
    client = stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0)
    customer = client.v1.customers.create({"email": "keep@example.com"})
    httpx.post(f"{base}/_emulator/advance", json={"days": 2})
    process.stop()  # SIGTERM: the lifespan shutdown writes the state file
    assert (data / "stripe-emulator.json").exists()
    process.start()
    try:
        assert client.v1.customers.retrieve(customer.id).email == "keep@example.com"
        assert httpx.get(f"{base}/_emulator/health").json()["clock_offset"] == 2 * 86400
    finally:
        process.stop()


def test_signature_header_format(
    emu: Emulator, receiver: Receiver, client: stripe.StripeClient
) -> None:
    client.v1.customers.create({"email": "sig@example.com"})
    receiver.wait_for_type("customer.created")
    delivery = receiver.received[0]
    parts = dict(part.split("=", 1) for part in delivery.headers["stripe-signature"].split(","))
    assert set(parts) == {"t", "v1"} and len(parts["v1"]) == 64
    assert stripe.WebhookSignature.verify_header(
        delivery.body.decode(), delivery.headers["stripe-signature"], SECRET
    )
