"""The emulator's state: every object by id, emulator-only facts (cards), the clock and events."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.stripe_emulator.errors import missing
from devtools.stripe_emulator.ids import new_id

log = logging.getLogger("stripe_emulator")

# The API version the emulated account is pinned to (events carry it). Matches stripe==16.1's
# default so `Webhook.construct_event` and typed objects see the shapes they were generated for.
API_VERSION = os.environ.get("STRIPE_EMULATOR_API_VERSION", "2026-10-28.endive")

# Readable names for 404 messages ("No such price: 'price_x'"), keyed by the `object` field.
KIND_NAMES = {"checkout.session": "checkout.session", "payment_intent": "payment_intent"}


@dataclass
class State:
    """What is persisted: plain JSON-able data only."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> Stripe object
    # Facts Stripe keeps but never shows: full card numbers, checkout line items, create params.
    private: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock_offset: int = 0  # seconds added to wall time by /_emulator/advance

    def to_json(self) -> dict[str, Any]:
        return {"objects": self.objects, "private": self.private, "clock_offset": self.clock_offset}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(
            objects=data.get("objects", {}),
            private=data.get("private", {}),
            clock_offset=int(data.get("clock_offset", 0)),
        )


EventSink = Callable[[dict[str, Any]], None]


class Store:
    """State plus the operations every resource needs; one asyncio lock serialises writers."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.lock = asyncio.Lock()
        self.data_dir = data_dir
        self.state = self._load()
        self.sinks: list[EventSink] = []
        self._dirty = False
        self._forced_now: int | None = None  # set while the clock replays renewals in order

    # --- clock -----------------------------------------------------------------------------

    def now(self) -> int:
        if self._forced_now is not None:
            return self._forced_now
        return int(time.time()) + self.state.clock_offset

    def run_at(self, moment: int | None) -> None:
        """Pin now() to `moment` (renewals stamped with their period end), or release it."""
        self._forced_now = moment

    # --- objects ---------------------------------------------------------------------------

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.state.objects[obj["id"]] = obj
        self.touch()
        return obj

    def find(self, object_id: str) -> dict[str, Any] | None:
        return self.state.objects.get(object_id)

    def get(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        obj = self.state.objects.get(object_id)
        if obj is None or obj.get("object") != kind or obj.get("deleted"):
            raise missing(KIND_NAMES.get(kind, kind.replace("_", " ")), object_id, param)
        return obj

    def all(self, kind: str) -> Iterator[dict[str, Any]]:
        """Objects of a kind, newest first (Stripe's list order); ties keep reverse insertion."""
        items = [
            obj
            for obj in self.state.objects.values()
            if obj.get("object") == kind and not obj.get("deleted")
        ]
        items.reverse()
        return iter(sorted(items, key=lambda obj: -int(obj.get("created", 0))))

    def private(self, object_id: str) -> dict[str, Any]:
        return self.state.private.setdefault(object_id, {})

    # --- events ----------------------------------------------------------------------------

    def emit(
        self,
        type_: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record an event with a full snapshot of `obj` and hand it to the webhook sinks."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if self.sinks else 0,
            "request": {"id": new_id("req_", 14), "idempotency_key": idempotency_key},
            "type": type_,
        }
        self.put(event)
        for sink in self.sinks:
            sink(event)
        return event

    # --- persistence -----------------------------------------------------------------------

    def touch(self) -> None:
        self._dirty = True

    def reset(self) -> None:
        self.state = State()
        self.touch()

    @property
    def _path(self) -> Path | None:
        return self.data_dir / "stripe-emulator.json" if self.data_dir else None

    def _load(self) -> State:
        path = self._path
        if path is None or not path.exists():
            return State()
        try:
            return State.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            log.warning("ignoring unreadable state file %s: %s", path, err)
            return State()

    def save_if_dirty(self) -> None:
        path = self._path
        if path is None or not self._dirty:
            return
        self._dirty = False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state.to_json()), encoding="utf-8")
        tmp.replace(path)  # atomic: a crash mid-write never leaves half a file

    async def autosave(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            self.save_if_dirty()
