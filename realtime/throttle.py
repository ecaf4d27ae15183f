"""A leading- and trailing-edge throttle per key, per process: the first at once, the rest once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
P = TypeVar("P")


class Throttle(Generic[K, T, P]):
    """The first item of a key is published at once and opens a window; what comes in the
    window is folded into one pending value, published when the window closes.

    `fold(pending, item, first)` returns the new pending value, None for nothing to publish
    (`pending` is None until something is). The window length is read per window, so tests can shorten it.
    A trailing publish that fails is logged: the items are pushes, never stored state.
    """

    def __init__(
        self,
        window: Callable[[], float],
        leading: Callable[[K, T], Awaitable[None]],
        fold: Callable[[P | None, T, T], P | None],
        trailing: Callable[[K, P], Awaitable[None]],
    ) -> None:
        self._window = window
        self._leading = leading
        self._fold = fold
        self._trailing = trailing
        # Per open key: the item published on the leading edge, and what is pending.
        self._open: dict[K, tuple[T, P | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps weak ones

    async def offer(self, key: K, item: T) -> None:
        if key in self._open:
            first, pending = self._open[key]
            self._open[key] = (first, self._fold(pending, item, first))
            return
        self._open[key] = (item, None)
        asyncio.get_running_loop().call_later(self._window(), self._close, key)
        await self._leading(key, item)

    def _close(self, key: K) -> None:
        _, pending = self._open.pop(key)
        if pending is not None:
            task = asyncio.ensure_future(self._publish_trailing(key, pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish_trailing(self, key: K, pending: P) -> None:
        try:
            await self._trailing(key, pending)
        except Exception:
            log.exception("throttled publish failed", key=str(key))
