"""Signed webhook delivery in the background: retries with backoff, plus a duplicate/shuffle chaos mode."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("stripe_emulator.webhooks")


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value that `stripe.Webhook.construct_event` verifies."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@dataclass
class WebhookConfig:
    url: str | None = None
    secret: str = "whsec_emulator"
    max_attempts: int = 8
    backoff: float = 0.5  # first retry delay (s), doubled each attempt, capped below
    backoff_cap: float = 30.0
    duplicate: bool = False  # chaos: every event delivered twice
    shuffle: bool = False  # chaos: events of a short window delivered in random order
    window: float = 0.3


@dataclass
class Delivery:
    event_id: str
    event_type: str
    attempt: int
    status: int | None
    error: str | None
    at: float = field(default_factory=time.time)


class Deliverer:
    """Queue of events to POST; the API never waits for it (Stripe delivers asynchronously too)."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.log: deque[Delivery] = deque(maxlen=2000)
        self._queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._retries: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._busy = 0

    def enqueue(self, event: dict[str, Any]) -> None:
        if self.config.url:
            # Serialise now: the snapshot is the object as it was when the event happened.
            self._queue.put_nowait((event["id"], event["type"], json.dumps(event, indent=2)))

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._retries) + self._busy

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=10.0)
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.drop_pending()
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._client:
            await self._client.aclose()

    def drop_pending(self) -> None:
        """Forget queued events and pending retries (emulator reset)."""
        while not self._queue.empty():
            self._queue.get_nowait()
        for task in list(self._retries):
            task.cancel()
        self._retries.clear()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._busy = 1
            try:
                if self.config.shuffle:
                    await asyncio.sleep(self.config.window)  # let the window fill before shuffling
                    while not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                copies = 2 if self.config.duplicate else 1
                sends = [item for item in batch for _ in range(copies)]
                if self.config.shuffle:
                    random.shuffle(sends)
                for item in sends:
                    # First attempts go out in order, one at a time; only retries run beside them,
                    # so one failing endpoint delays nothing else (as with Stripe).
                    if not await self._attempt(item, 1):
                        self._spawn_retry(item)
            finally:
                self._busy = 0

    def _spawn_retry(self, item: tuple[str, str, str]) -> None:
        task = asyncio.create_task(self._retry(item))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, item: tuple[str, str, str]) -> None:
        for attempt in range(2, self.config.max_attempts + 1):
            delay = min(self.config.backoff * 2 ** (attempt - 2), self.config.backoff_cap)
            await asyncio.sleep(delay)
            if await self._attempt(item, attempt):
                return
        log.warning("webhook %s gave up after %d attempts", item[0], self.config.max_attempts)

    async def _attempt(self, item: tuple[str, str, str], attempt: int) -> bool:
        event_id, event_type, payload = item
        url = self.config.url
        if not url or self._client is None:
            return True
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, self.config.secret),
        }  # signed per attempt, like Stripe
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(url, content=payload.encode(), headers=headers)
            status = response.status_code
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
        self.log.append(Delivery(event_id, event_type, attempt, status, error))
        return status is not None and 200 <= status < 300
