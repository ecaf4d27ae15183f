"""Inbound Stripe webhooks: verify, store once, process in a worker (received -> succeeded/failed).

The HTTP side only verifies, inserts (ON CONFLICT DO NOTHING on the Stripe event id; the events
of concurrent requests in one statement) and pokes the drain, so a duplicate or a retry is
acknowledged without doing anything twice. The stored
row is the queue: a Celery task drains 'received' rows in batches, claiming them first, so a
redelivered task or a second drain finds them taken.

A signed event is stored whatever it carries (a far `created`, a NUL in a string: see
`storable`); should the database still refuse the data of one row, its batch is split until
that row is alone, so a valid event is never refused because of another.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta
from typing import Annotated, Any, Protocol

import asyncpg
import msgspec
import stripe
import structlog

from core.redis import get_redis
from core.settings import get_settings
from db.billing.tables import StripeEvent
from server.domains.billing.actions.handlers import HANDLERS
from server.errors import AppError, ClientError
from server.integrations.stripe import decode_event, verify_signature
from server.jobs import Unavailable, enqueue

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 50
# A drain task hands over to a fresh one after this many batches, so other tasks of a single
# worker (mails, syncs) are not held behind a large backlog.
MAX_BATCHES = 10
# Set while a drain is queued or running: most requests then skip the broker entirely.
DRAIN_FLAG = "billing:stripe:drain"
# Only a safety net (a lost task): a drain deletes the flag itself before its last look.
DRAIN_FLAG_TTL_S = 60
DRAIN_TASK = "tasks.billing.drain_stripe_events"
# verify_signature refuses a signature older than this; Stripe's library does not refuse one
# from the future, which would stretch the replay window forward: refused here, with the same
# allowance for clock skew.
SIGNATURE_TOLERANCE_S = 300

# Printable ASCII within its column's length: a Stripe id or type holds nothing else, and a
# value its column cannot take would only fail the insert.
_Id = Annotated[str, msgspec.Meta(pattern="^[ -~]+$", max_length=255)]
_Type = Annotated[str, msgspec.Meta(pattern="^[ -~]+$", max_length=100)]


class EventHead(msgspec.Struct):
    """What the accept path needs of an event (the rest is stored as received)."""

    id: _Id
    type: _Type
    created: int
    livemode: bool = False


class _EventLike(Protocol):
    # Read-only: a stripe.Event (whose `type` is a Literal of every event type) fits too.
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def created(self) -> int: ...
    @property
    def livemode(self) -> bool: ...


_decode_head = msgspec.json.Decoder(EventHead).decode
_TIMESTAMP = re.compile(r"(?:^|,)\s*t=(\d+)")


def _signed_in_the_future(signature: str) -> bool:
    match = _TIMESTAMP.search(signature)
    return match is not None and int(match.group(1)) > time.time() + SIGNATURE_TOLERANCE_S


def verify(payload: bytes, signature: str | None) -> EventHead:
    """Any current secret may have signed it (rotation); else 400 and nothing is stored."""
    if not signature:
        raise ClientError("Missing Stripe-Signature header", code="invalid_signature")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError("The payload is not a Stripe event", code="invalid_payload") from exc
    if _signed_in_the_future(signature):
        raise ClientError("Invalid or stale Stripe signature", code="invalid_signature")
    for secret in get_settings().stripe_webhook_secrets:
        try:
            verify_signature(text, signature, secret)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise ClientError("Invalid or stale Stripe signature", code="invalid_signature")
    try:
        return _decode_head(payload)
    except msgspec.DecodeError as exc:  # a ValidationError too: a head no column can hold
        raise ClientError("The payload is not a Stripe event", code="invalid_payload") from exc


# jsonb refuses a NUL and a lone surrogate in a string (\u0000, \ud800), though JSON allows them.
_UNSTORABLE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        # Kept as their visible escapes: "a<NUL>b" is stored as the text "a\u0000b".
        return value.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode()
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    return value


def storable(payload: bytes) -> str:
    """The payload as jsonb stores it: as sent, unless a string holds a NUL or a lone surrogate,
    which are escaped (the signature was checked on the original; handlers read only ids)."""
    text = payload.decode("utf-8")
    if not _UNSTORABLE.search(text):
        return text
    return json.dumps(_escaped(json.loads(text)), ensure_ascii=False, separators=(",", ":"))


_INSERT_MANY = (
    "INSERT INTO stripe_events (stripe_id, type, livemode, stripe_created, payload, status, "
    "attempts, last_error, received_at) SELECT u.stripe_id, u.type, u.livemode, u.created, "
    "u.payload::jsonb, 'received', 0, '', now() FROM unnest({}::text[], {}::text[], {}::text[], "
    "{}::bigint[], {}::text[]) AS u(stripe_id, type, livemode, created, payload) "
    "ON CONFLICT (stripe_id) DO NOTHING RETURNING stripe_id"
)


async def _insert_many(items: list[tuple[_EventLike, bytes]]) -> set[str]:
    """One statement (and one commit) for many events; the Stripe ids that were new."""
    rows = await StripeEvent.raw(
        _INSERT_MANY,
        [e.id for e, _ in items],
        [e.type for e, _ in items],
        [str(bool(e.livemode)).lower() for e, _ in items],
        [int(e.created) for e, _ in items],
        [storable(p) for _, p in items],
    )
    return {r["stripe_id"] for r in rows}


async def do_record_event(event: _EventLike, payload: bytes) -> bool:
    """Store the event once; False when this Stripe id was already received."""
    return event.id in await _insert_many([(event, payload)])


_Waiting = tuple[EventHead, bytes, "asyncio.Future[bool]"]
# What the database says of one row's values (class 22 data exceptions, class 23 constraints,
# and asyncpg's own encoding errors, which are ValueErrors): splitting the batch isolates them.
# Anything else (a connection lost, a timeout) is the database's state, the same for every row.
_ROW_ERRORS = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    ValueError,
)


def _refuse(batch: list[_Waiting], error: AppError) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(error)


async def _insert_isolated(batch: list[_Waiting]) -> tuple[list[_Waiting], set[str]]:
    """Insert the batch in one statement; when a row's data is refused, halves are tried apart
    until that row is alone, which alone is refused (4xx: Stripe's retries cannot help it).
    Returns the waiting requests whose rows are stored, and the ids that were new."""
    try:
        return batch, await _insert_many([(e, p) for e, p, _ in batch])
    except _ROW_ERRORS as exc:
        if len(batch) > 1:
            half = len(batch) // 2
            first, fresh_first = await _insert_isolated(batch[:half])
            second, fresh_second = await _insert_isolated(batch[half:])
            return first + second, fresh_first | fresh_second
        log.error("stripe event not storable", stripe_id=batch[0][0].id, error=repr(exc))
        _refuse(batch, ClientError("The event could not be stored", code="unstorable_event"))
    except Exception:
        # A 503 makes Stripe retry; a row already stored then comes back as a duplicate.
        log.exception("stripe events not accepted", count=len(batch))
        _refuse(batch, Unavailable("Could not store the event, try again shortly"))
    return [], set()


class Intake:
    """Stores the events of concurrent webhook requests together: while one INSERT is in
    flight the next requests queue up and go in the following one. Each request still
    waits until its own row is committed (and a drain is asked for) before answering, so
    nothing is acknowledged that is not stored; one idle request goes alone, at once."""

    MAX_BATCH = 200

    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._busy = False

    async def accept(self, event: EventHead, payload: bytes) -> bool:
        """True when the event is new, False for a duplicate."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, payload, future))
        if not self._busy:
            self._busy = True
            task = asyncio.ensure_future(self._flush())
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.MAX_BATCH]
                del self._waiting[: self.MAX_BATCH]
                await self._store(batch)
        finally:
            self._busy = False

    @staticmethod
    async def _store(batch: list[_Waiting]) -> None:
        stored, fresh = await _insert_isolated(batch)
        if not stored:
            return
        try:
            await request_drain()
        except Exception as exc:
            log.exception("stripe events stored, no drain queued", count=len(stored))
            unavailable = Unavailable("Could not store the event, try again shortly")
            _refuse(stored, exc if isinstance(exc, Unavailable) else unavailable)
            return
        for event, _, future in stored:
            if not future.done():  # a request cancelled meanwhile (client gone) has no answer
                future.set_result(event.id in fresh)
            fresh.discard(event.id)  # the same id twice in one batch: only the first is new


_tasks: set[asyncio.Task[None]] = set()
_intakes: dict[int, Intake] = {}


def intake() -> Intake:
    """One per event loop (the app's; tests may run another)."""
    return _intakes.setdefault(id(asyncio.get_running_loop()), Intake())


async def request_drain() -> None:
    """Make sure a drain runs after this point (called once the event row is committed).

    Whoever sets the flag queues a drain; if it was set already, a drain is queued or running
    and will look at the table again after deleting the flag, so it sees this row too.
    """
    if not await get_redis().set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_TTL_S):
        return
    try:
        await enqueue(DRAIN_TASK)
    except Exception:
        await get_redis().delete(DRAIN_FLAG)  # the next request (or Stripe's retry) tries again
        raise


# A 'processing' row may be taken again once its lease is over (its worker died), or at once by
# the task that claimed it: a task redelivered after its worker was killed, or retried after an
# error, keeps its Celery task id, so it resumes its own claims instead of leaving them to wait
# out the lease (a paid purchase without access for minutes). Handlers converge, so the rare
# second run of one (a redelivery while the first run still goes on) changes nothing.
_RETAKE = (
    "(status = 'processing' AND (claimed_at < (now() - {}::interval) "
    "OR (claimed_by = {} AND claimed_by <> '')))"
)


async def _claim(stripe_id: str, claimer: str = "") -> dict[str, Any] | None:
    rows = await StripeEvent.raw(
        "UPDATE stripe_events SET status = 'processing', attempts = attempts + 1, "
        "claimed_at = now(), claimed_by = {} WHERE stripe_id = {} AND "
        "(status IN ('received', 'failed') OR " + _RETAKE + ") "
        "RETURNING id, stripe_id, type, payload",
        claimer,
        stripe_id,
        LEASE,
        claimer,
    )
    return rows[0] if rows else None


async def _finish(stripe_id: str, status: str, error: str = "") -> None:
    await StripeEvent.raw(
        "UPDATE stripe_events SET status = {}, last_error = {}, processed_at = now() "
        "WHERE stripe_id = {}",
        status,
        error[:2000],
        stripe_id,
    )


async def _execute(row: dict[str, Any]) -> str:
    """Run a claimed row's handler; the outcome is stored and returned (raised on failure)."""
    handler = HANDLERS.get(row["type"])
    if handler is None:
        await _finish(row["stripe_id"], "ignored")
        return "ignored"
    payload = row["payload"]
    try:
        # jsonb comes back as text from a raw query; re-encode in case a driver codec decoded it.
        event = decode_event(payload if isinstance(payload, str) else msgspec.json.encode(payload))
        await handler(event)
    except Exception as exc:
        log.exception("stripe event failed", stripe_id=row["stripe_id"], type=row["type"])
        await _finish(row["stripe_id"], "failed", f"{type(exc).__name__}: {exc}")
        raise
    await _finish(row["stripe_id"], "succeeded")
    return "succeeded"


async def do_process_event(stripe_id: str, claimer: str = "") -> str:
    """Run the handler for one stored event (a retry, or a test); its status is also stored.
    `claimer`: the calling task's id (see _RETAKE)."""
    row = await _claim(stripe_id, claimer)
    if row is None:
        return "skipped"  # done already, or another worker holds a fresh lease
    return await _execute(row)


async def _claim_batch(limit: int, claimer: str = "") -> list[dict[str, Any]]:
    """Take up to `limit` received events (or orphaned claims, or this task's own) at once,
    oldest first."""
    rows = await StripeEvent.raw(
        "UPDATE stripe_events SET status = 'processing', attempts = attempts + 1, "
        "claimed_at = now(), claimed_by = {} WHERE id IN (SELECT id FROM stripe_events "
        "WHERE status = 'received' OR " + _RETAKE + " ORDER BY id "
        "LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id, stripe_id, type, payload",
        claimer,
        LEASE,
        claimer,
        limit,
    )
    return sorted(rows, key=lambda r: r["id"])


async def _handle(row: dict[str, Any]) -> None:
    try:
        await _execute(row)
    except Exception:
        # Retried on its own, with the per-event task's backoff.
        try:
            await enqueue("tasks.billing.process_stripe_event", row["stripe_id"])
        except Exception:
            # No queue for its retry: it is left claimed, as by a worker that died, so a drain
            # takes it again once the lease is over; the rest of this batch goes on. No claimant:
            # a task re-takes its own claims at once, which would spin on it while the broker is
            # down.
            log.exception("stripe event retry not queued", stripe_id=row["stripe_id"])
            await StripeEvent.raw(
                "UPDATE stripe_events SET status = 'processing', claimed_at = now(), "
                "claimed_by = '' "
                "WHERE stripe_id = {} AND status = 'failed'",
                row["stripe_id"],
            )


async def _run_batch(rows: list[dict[str, Any]]) -> None:
    ignored = [r["id"] for r in rows if r["type"] not in HANDLERS]
    if ignored:  # no handler, no side effect: one UPDATE for all of them
        await StripeEvent.raw(
            "UPDATE stripe_events SET status = 'ignored', last_error = '', processed_at = now() "
            "WHERE id = ANY({}::int[])",
            ignored,
        )
    for row in rows:
        if row["type"] in HANDLERS:
            await _handle(row)


async def do_drain(batch: int = BATCH, max_batches: int = MAX_BATCHES, claimer: str = "") -> int:
    """Process stored events until none is left (or hand over to a new drain task).
    `claimer`: the calling task's id, so a redelivery resumes its claims (see _RETAKE)."""
    done = 0
    for _ in range(max_batches):
        rows = await _claim_batch(batch, claimer)
        if not rows:
            # Delete the flag, then look once more: an event stored before the deletion is
            # seen now; one stored after it sets the flag again and queues a new drain.
            await get_redis().delete(DRAIN_FLAG)
            rows = await _claim_batch(batch, claimer)
            if not rows:
                return done
        await _run_batch(rows)
        done += len(rows)
    await enqueue(DRAIN_TASK)  # more may be waiting: the flag stays set, a fresh task goes on
    return done
