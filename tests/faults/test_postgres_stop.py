"""PostgreSQL stopped at once (`pg_ctl stop -m immediate`) under chat and webhook load.

The case runs a stack of its own (embedded PostgreSQL, Redis, web, worker, Stripe emulator),
never the machine's server. Bounds: every ok-acked message is in the history afterwards; sends
during the outage get an `unavailable` error ack, never a hang; sends work again within 30 s of
PostgreSQL's return; webhooks answered 5xx meanwhile are processed on the emulator's retry.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import socketio

from devtools.embedded import EmbeddedPostgres, ensure_database, start_postgres, start_redis
from devtools.procs import free_port
from devtools.stack import migrate_argv, procfile_argv
from tests.faults.conftest import scaled
from tests.harness import ManagedProcess, Stack, http_ready
from tests.realtime.clients import connect

SOCKETS = scaled(4, 12)
CHANNELS = 4  # a socket sends round-robin over them: the send limit is per user and channel
SEND_RATE = 3.0  # per socket per second (0.75/s per channel, under the 5-in-5-s limit)
WARMUP_S = scaled(3.0, 10.0)
OUTAGE_S = scaled(5.0, 20.0)
AFTER_S = scaled(8.0, 20.0)
WEBHOOK_RATE = scaled(2.0, 4.0)  # Stripe events (customer.created) per second
HANG_S = 10.0  # an ack slower than this is a hang
RECOVERY_BOUND_S = 30.0
WEBHOOK_BOUND_S = 90.0  # the emulator gives up after ~60 s of retries; the drain after that


# --- the case's own stack ---------------------------------------------------------------------


def _pg_ctl(pg: EmbeddedPostgres, *args: str) -> None:
    import pgserver

    server: Any = pg._server  # the pgserver handle: its data dir and the system user it runs as
    pgserver.pg_ctl(list(args), pgdata=server.pgdata, user=server.system_user, timeout=60)


@dataclass
class OwnStack:
    pg: EmbeddedPostgres
    database_url: str
    env: dict[str, str]
    web_url: str
    stripe_url: str
    processes: list[ManagedProcess] = field(default_factory=list)

    def stop_postgres(self) -> None:
        _pg_ctl(self.pg, "-m", "immediate", "-w", "stop")

    def start_postgres(self) -> None:
        socket_dir = parse_qs(urlsplit(self.pg.url).query)["host"][0]
        log = str(self.pg.data_dir / "log")
        _pg_ctl(self.pg, "-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")


def _process(name: str, env: dict[str, str], tmp: Path, ready: Any) -> ManagedProcess:
    return ManagedProcess(
        name=name,
        argv=procfile_argv(name, env),
        env=env,
        log_path=tmp / f"{name}.log",
        ready=ready,
    )


@pytest.fixture
def own_stack(stack: Stack, tmp_path: Path) -> Iterator[OwnStack]:
    import subprocess

    # Under the session's directory: pytest's tmp_path is private to root, and as root pgserver
    # runs the server as a system user that must reach the data directory.
    pg = start_postgres(stack.tmp / f"faults-pg-{uuid.uuid4().hex[:8]}")
    redis = start_redis(tmp_path / "redis", persist=False)
    own = None
    try:
        url = ensure_database(pg.url, "faults_pg")
        web_port, stripe_port = free_port(), free_port()
        env = {
            **stack.env,
            "DATABASE_URL": url,
            "REDIS_URL": redis.url,
            "PORT": str(web_port),
            "DATA_DIR": str(tmp_path),
            "STRIPE_PORT": str(stripe_port),
            "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        }
        subprocess.run(migrate_argv(), env=env, check=True, capture_output=True, timeout=300)
        own = OwnStack(
            pg=pg,
            database_url=url,
            env=env,
            web_url=f"http://127.0.0.1:{web_port}",
            stripe_url=env["STRIPE_API_BASE"],
        )
        worker_log = tmp_path / "worker.log"
        own.processes = [
            _process("stripe", env, tmp_path, http_ready(f"{own.stripe_url}/_emulator/health")),
            _process("web", env, tmp_path, http_ready(f"{own.web_url}/healthz")),
            _process(
                "worker",
                env,
                tmp_path,
                lambda: worker_log.exists() and " ready." in worker_log.read_text(),
            ),
        ]
        for process in own.processes:
            process.start()
        yield own
    finally:
        if own is not None:
            for process in reversed(own.processes):
                process.stop()
        try:
            _pg_ctl(pg, "-m", "fast", "-w", "stop")  # the restarted server is not pgserver's
        except Exception:
            pass
        pg.stop()
        redis.stop()


# --- data: users with sessions, a guild with channels ------------------------------------------


async def _seed(database_url: str, users: int, channels: int) -> tuple[list[str], list[int]]:
    """Session cookies of `users` members and the ids of `channels` channels of one guild."""
    from server.domains.auth.security import SESSION_TTL_S, encode_session
    from server.domains.platforms.queries import Platform, branding

    conn = await asyncpg.connect(database_url)
    try:
        guild = await conn.fetchval(
            "INSERT INTO guilds (platform, slug, name) VALUES ('weokto', 'pg-fault', 'PG fault') "
            "RETURNING id"
        )
        channel_ids = [
            await conn.fetchval(
                "INSERT INTO channels (guild, name) VALUES ($1, $2) RETURNING id", guild, f"c{n}"
            )
            for n in range(channels)
        ]
        cookies = []
        for n in range(users):
            user = await conn.fetchval(
                "INSERT INTO users (platform, email, display_name) VALUES ('weokto', $1, $2) "
                "RETURNING id",
                f"pg{n}@example.com",
                f"pg{n}",
            )
            await conn.execute(
                'INSERT INTO guild_members (guild, "user") VALUES ($1, $2)', guild, user
            )
            session = uuid.uuid4()
            await conn.execute(
                'INSERT INTO sessions (id, "user", platform, expires_at) '
                "VALUES ($1, $2, 'weokto', now() + make_interval(secs => $3))",
                session,
                user,
                float(SESSION_TTL_S),
            )
            token = encode_session(str(session), "weokto")
            cookies.append(f"{branding(Platform('weokto')).cookie_name}={token}")
        return cookies, channel_ids
    finally:
        await conn.close()


# --- load -------------------------------------------------------------------------------------


@dataclass
class Sent:
    socket: int
    client_msg_id: str
    channel_id: int
    started: float
    took: float
    ack: dict[str, Any] | None  # None: no ack within HANG_S

    @property
    def ok(self) -> bool:
        return bool(self.ack and self.ack.get("ok"))

    @property
    def code(self) -> str:
        if self.ack is None:
            return "no_ack"
        return "ok" if self.ok else str(self.ack["error"]["code"])


async def _send(sock: socketio.AsyncClient, channel_id: int, cmid: str) -> dict[str, Any] | None:
    try:
        return await sock.call(
            "send_message",
            {"channel_id": channel_id, "content": f"m {cmid}", "client_msg_id": cmid},
            timeout=HANG_S,
        )
    except socketio.exceptions.TimeoutError:
        return None


async def _sender(
    index: int,
    sock: socketio.AsyncClient,
    channels: list[int],
    stop: asyncio.Event,
    log: list[Sent],
) -> None:
    interval = 1.0 / SEND_RATE
    n = 0
    next_at = time.monotonic()
    while not stop.is_set():
        channel_id = channels[n % len(channels)]
        cmid = f"s{index}-{n}"
        started = time.monotonic()
        ack = await _send(sock, channel_id, cmid)
        log.append(Sent(index, cmid, channel_id, started, time.monotonic() - started, ack))
        n += 1
        # A steady pace, no catch-up burst after a slow ack.
        next_at = max(next_at + interval, time.monotonic())
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _stripe_load(stripe_url: str, stop: asyncio.Event, created: list[str]) -> None:
    """Customers created at a steady rate: each one a customer.created webhook."""
    headers = {"Authorization": "Bearer sk_test_local_emulator"}
    async with httpx.AsyncClient(base_url=stripe_url, headers=headers, timeout=10) as api:
        n = 0
        while not stop.is_set():
            res = await api.post("/v1/customers", data={"email": f"w{n}@example.com"})
            assert res.status_code == 200, res.text
            created.append(res.json()["id"])
            n += 1
            await asyncio.sleep(1.0 / WEBHOOK_RATE)


async def _http_probe(
    base: str, cookie: str, origin: str, stop: asyncio.Event, seen: list[tuple[float, int, str]]
) -> None:
    """A signed-in page's API read, twice a second: (time, status, error code)."""
    headers = {"Cookie": cookie, "Origin": origin}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=HANG_S) as http:
        while not stop.is_set():
            started = time.monotonic()
            try:
                res = await http.get("/api/auth/me")
                code = res.json().get("error", {}).get("code", "") if res.status_code >= 400 else ""
                seen.append((started, res.status_code, code))
            except httpx.TimeoutException:
                seen.append((started, 0, "no_answer"))
            await asyncio.sleep(0.5)


async def _resend_failed(socks: list[socketio.AsyncClient], failed: list[Sent]) -> list[Sent]:
    """What a client does with an error ack: send again later, with the same client id."""
    again: list[Sent] = []
    for item in failed:
        for _attempt in range(20):
            started = time.monotonic()
            ack = await _send(socks[item.socket], item.channel_id, item.client_msg_id)
            again.append(
                Sent(
                    item.socket,
                    item.client_msg_id,
                    item.channel_id,
                    started,
                    time.monotonic() - started,
                    ack,
                )
            )
            if ack and not ack["ok"] and ack["error"]["code"] == "rate_limited":
                await asyncio.sleep(float(ack["error"]["details"]["retry_after"]))
                continue
            break
    return again


def _recovery(log: list[Sent], back_at: float) -> float | None:
    """Seconds from PostgreSQL's return until the first ok ack after which every send is ok."""
    after = sorted((s for s in log if s.started >= back_at), key=lambda s: s.started)
    for i, item in enumerate(after):
        if all(s.ok for s in after[i:]):
            return item.started + item.took - back_at
    return None


# --- the case ---------------------------------------------------------------------------------


@pytest.fixture
async def sockets(
    own_stack: OwnStack, stack: Stack
) -> AsyncIterator[tuple[list[Any], list[int], list[str], str]]:
    cookies, channels = await _seed(own_stack.database_url, SOCKETS, CHANNELS)
    origin = stack.env["WEOKTO_BASE_URL"]
    socks = [await connect(own_stack.web_url, cookie, origin=origin) for cookie in cookies]
    for sock in socks:
        for channel_id in channels:
            ack = await sock.call("join_channel", {"channel_id": channel_id}, timeout=10)
            assert ack["ok"], ack
    yield socks, channels, cookies, origin
    for sock in socks:
        await sock.disconnect()


async def _processed_events(database_url: str) -> dict[str, tuple[str, float | None]]:
    """Each stored event's status and when it was processed (Unix time)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT stripe_id, status, extract(epoch FROM processed_at)::float8 AS at "
            "FROM stripe_events"
        )
    finally:
        await conn.close()
    return {r["stripe_id"]: (r["status"], r["at"]) for r in rows}


async def _deliveries(stripe_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stripe_url, timeout=10) as emu:
        return list((await emu.get("/_emulator/deliveries")).json()["data"])


async def test_immediate_stop_loses_nothing_acked_and_recovers(own_stack, sockets, figures):
    socks, channels, cookies, origin = sockets
    stop = asyncio.Event()
    log: list[Sent] = []
    customers: list[str] = []
    load = [
        asyncio.ensure_future(_sender(i, sock, channels, stop, log)) for i, sock in enumerate(socks)
    ]
    stripe = asyncio.ensure_future(_stripe_load(own_stack.stripe_url, stop, customers))
    http_seen: list[tuple[float, int, str]] = []
    probe = asyncio.ensure_future(
        _http_probe(own_stack.web_url, cookies[0], origin, stop, http_seen)
    )
    await asyncio.sleep(WARMUP_S)
    down_at = time.monotonic()
    await asyncio.to_thread(own_stack.stop_postgres)
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(own_stack.start_postgres)
    back_at, back_wall = time.monotonic(), time.time()
    await asyncio.sleep(AFTER_S)
    stop.set()
    await asyncio.gather(*load, stripe, probe)

    failed = [s for s in log if not s.ok]
    resent = await _resend_failed(socks, failed)

    # Webhooks: every event the emulator made is stored and processed (ignored counts: the
    # drain took it; customer.created has no handler).
    conn = await asyncpg.connect(own_stack.database_url)
    try:
        history = {
            r["client_msg_id"]: r["n"]
            for r in await conn.fetch(
                "SELECT client_msg_id, count(*) AS n FROM messages GROUP BY client_msg_id"
            )
        }
    finally:
        await conn.close()
    deliveries = await _deliveries(own_stack.stripe_url)
    refused = {d["event_id"] for d in deliveries if d["status"] is None or d["status"] >= 500}
    wanted = {d["event_id"] for d in deliveries}
    deadline = time.monotonic() + WEBHOOK_BOUND_S
    while True:
        events = await _processed_events(own_stack.database_url)
        done = {e for e, (status, _) in events.items() if status in ("succeeded", "ignored")}
        if wanted <= done or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    deliveries = await _deliveries(own_stack.stripe_url)
    accepted_at = {
        d["event_id"]: d["at"]
        for d in sorted(deliveries, key=lambda d: -d["at"])  # the first 2xx wins
        if d["event_id"] in refused and d["attempt"] > 1 and d["status"] == 200
    }
    retried_ok = set(accepted_at)
    # From the retry the endpoint accepted to the event's processing: the drain's own delay.
    lags = [
        processed - at
        for e, at in accepted_at.items()
        if (processed := events.get(e, ("", None))[1]) is not None
    ]

    acked = {s.client_msg_id for s in log + resent if s.ok}
    during = [s for s in log if down_at <= s.started < back_at]
    codes: dict[str, int] = {}
    for s in during:
        codes[s.code] = codes.get(s.code, 0) + 1
    recovery = _recovery(log, back_at)
    http_during: dict[str, int] = {}
    for started, status, code in http_seen:
        if down_at <= started < back_at:
            key = f"{status} {code}".strip()
            http_during[key] = http_during.get(key, 0) + 1
    figures.record(
        sockets=SOCKETS,
        sends=len(log),
        sends_ok=sum(s.ok for s in log),
        outage_s=OUTAGE_S,
        acks_during_outage=codes,
        http_during_outage=http_during,
        slowest_ack_s=round(max(s.took for s in log + resent), 3),
        recovery_s=None if recovery is None else round(recovery, 2),
        resent_ok=sum(s.ok for s in resent),
        lost_acked=len(acked - history.keys()),
        duplicated=sum(1 for n in history.values() if n > 1),
        stripe_events=len(wanted),
        stripe_events_5xx=len(refused),
        stripe_5xx_processed_on_retry=len(refused & retried_ok & done),
        # The last refused event's processing, after PostgreSQL came back: mostly the wait for
        # the emulator's next attempt (its backoff doubles up to 30 s).
        webhooks_processed_after_return_s=round(
            max((events.get(e, ("", None))[1] or back_wall) - back_wall for e in refused), 1
        )
        if refused
        else None,
        webhook_accept_to_processed_max_s=round(max(lags), 2) if lags else None,
        bound="0 acked lost; outage acks 'unavailable', < 10 s; recovery <= 30 s; 5xx webhooks "
        "processed on retry, <= 30 s after it is accepted",
    )
    assert acked - history.keys() == set()  # nothing acknowledged is lost
    assert all(n == 1 for n in history.values())  # a resend is never a copy
    assert set(codes) <= {"ok", "unavailable"}, codes  # a clear refusal during the outage
    assert codes.get("unavailable", 0) > 0, codes  # the outage was seen by the load
    assert max(s.took for s in log + resent) < HANG_S
    assert set(http_during) <= {"200", "503 unavailable"}, http_during  # a 503, never a 500
    assert recovery is not None and recovery <= RECOVERY_BOUND_S, recovery
    final = {s.client_msg_id: s.ok for s in resent}  # the last attempt of each resend
    assert all(final.values()), [cmid for cmid, ok in final.items() if not ok]
    assert refused, "no webhook met the outage"
    assert wanted <= done, sorted(wanted - done)
    assert refused <= retried_ok, sorted(refused - retried_ok)
    assert max(lags) <= RECOVERY_BOUND_S, lags  # the drain is not left stuck after the outage
