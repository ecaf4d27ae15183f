"""The unit of work: a transaction, or one autocommitted statement, whose after-commit effects
run only once it has committed (and are dropped if it fails).

Piccolo has no on-commit hook, so effects wait in a context-local `Work` and run when the block
exits cleanly. Higher layers register on it: a cache dropped, a room left, and the realtime
emitter's publish, which registers itself as a `last` effect so that what a browser refetches on
an event was already made fresh by the other effects.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog

from db.piccolo_conf import DB

log = structlog.get_logger(__name__)

Effect = Callable[[], Awaitable[None]]
T = TypeVar("T")


class Work:
    """What one block will do after its commit, and the state layers keep for it."""

    __slots__ = ("first", "last", "slots")

    def __init__(self) -> None:
        self.first: dict[str, Effect] = {}
        self.last: dict[str, Effect] = {}
        self.slots: dict[str, Any] = {}

    def slot(self, key: str, factory: Callable[[], T]) -> T:
        """Per-block state of a layer (the emitter's queued events), made on first use."""
        if key not in self.slots:
            self.slots[key] = factory()
        value: T = self.slots[key]
        return value


_current: contextvars.ContextVar[Work | None] = contextvars.ContextVar("uow", default=None)


def current_work() -> Work:
    work = _current.get()
    if work is None:
        raise RuntimeError(
            "after-commit effects must be registered inside atomic() or after_write()"
        )
    return work


def in_work() -> bool:
    return _current.get() is not None


def on_commit(key: str, effect: Effect, *, last: bool = False) -> None:
    """Run `effect` once (per key) after the current block commits. `last` effects run after all
    the others (publishers); a failing effect is logged and never undoes the committed write."""
    work = current_work()
    (work.last if last else work.first).setdefault(key, effect)


@asynccontextmanager
async def atomic() -> AsyncIterator[None]:
    """A database transaction whose after-commit effects run only if it commits.
    Nested: it joins the outer block and its commit."""
    if in_work():
        async with DB.transaction():
            yield
        return
    async with _collecting(transaction=True):
        yield


@asynccontextmanager
async def after_write() -> AsyncIterator[None]:
    """For a write that is a single statement committing on its own (autocommit): effects
    registered in the block run when it exits cleanly, the statement having committed by then.
    Inside an atomic() block it simply joins that block (and its commit)."""
    if in_work():
        yield
        return
    async with _collecting(transaction=False):
        yield


@asynccontextmanager
async def _collecting(transaction: bool) -> AsyncIterator[None]:
    work = Work()
    token = _current.set(work)
    try:
        if transaction:
            async with DB.transaction():
                yield
        else:
            yield
    finally:
        _current.reset(token)
    await _run(work.first)
    await _run(work.last)


async def _run(effects: dict[str, Effect]) -> None:
    for key, effect in effects.items():
        try:
            await effect()
        except Exception:  # a committed write stands whatever an effect does
            log.exception("after-commit effect failed", key=key)
