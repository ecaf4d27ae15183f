"""The Socket.IO spine against a real server process, Redis and a Celery worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import socketio

from tests.realtime.clients import connect as _connect
from tests.realtime.clients import sign_in as _sign_in


async def test_worker_push_reaches_the_socket_through_redis(live_server, read_mail):
    base = live_server.weokto_url
    cookie = await _sign_in(base, "sock@example.com", read_mail)
    client = await _connect(base, cookie)
    welcomed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("session.welcome", lambda data: welcomed.done() or welcomed.set_result(data))
    ack = await client.call("hello", {}, timeout=10)
    assert ack["ok"] is True
    event = await asyncio.wait_for(welcomed, 15)
    assert event["type"] == "session.welcome" and event["user"]["email"] == "sock@example.com"
    assert event["worker"].startswith("celery@") and event["platform"] == "weokto"
    await client.disconnect()


async def test_polling_transport_works_too(live_server, read_mail):
    base = live_server.stam_url
    cookie = await _sign_in(base, "poll@example.com", read_mail)
    client = await _connect(base, cookie, transports=["polling"])
    assert (await client.call("hello", {}, timeout=10))["ok"] is True
    # A graceful polling disconnect waits out the pending long-poll (ping interval): abort.
    await client.eio.disconnect(abort=True)


async def test_connection_without_session_is_refused(live_server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(live_server.weokto_url, "")


async def test_foreign_origin_is_refused(live_server, read_mail):
    cookie = await _sign_in(live_server.weokto_url, "origin@example.com", read_mail)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(live_server.weokto_url, cookie, origin="https://evil.example")


async def test_other_platforms_session_is_refused(live_server, read_mail):
    cookie = await _sign_in(live_server.weokto_url, "cross@example.com", read_mail)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(live_server.stam_url, cookie)


async def test_logout_tells_the_socket_then_disconnects_it(live_server, read_mail):
    base = live_server.weokto_url
    cookie = await _sign_in(base, "late@example.com", read_mail)
    client = await _connect(base, cookie)
    told: list[dict] = []
    gone = asyncio.Event()
    client.on("session.revoked", lambda data: told.append(data))
    client.on("disconnect", lambda *_: gone.set())
    async with httpx.AsyncClient(base_url=base) as http:
        for pair in cookie.split("; "):
            k, v = pair.split("=", 1)
            http.cookies.set(k, v)
        res = await http.post(
            "/api/auth/logout", headers={"x-csrftoken": http.cookies["csrftoken"]}
        )
        assert res.status_code == 200
    await asyncio.wait_for(gone.wait(), 10)
    assert [t["reason"] for t in told] == ["logout"]
    with pytest.raises(socketio.exceptions.ConnectionError):  # and it cannot come back
        await _connect(base, cookie)


async def test_event_after_the_session_ended_gets_an_error_ack(live_server, read_mail):
    from db.auth.tables import Session

    base = live_server.weokto_url
    cookie = await _sign_in(base, "expired@example.com", read_mail)
    client = await _connect(base, cookie)
    # Expiry cuts nothing by itself: the next event finds the session gone.
    await Session.update({Session.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True)
    ack = await client.call("hello", {}, timeout=10)
    assert ack["ok"] is False and ack["error"]["code"] == "session_ended"
    await client.disconnect()


async def test_bad_payload_gets_a_validation_ack(live_server, read_mail):
    base = live_server.weokto_url
    client = await _connect(base, await _sign_in(base, "bad@example.com", read_mail))
    ack = await client.call("hello", "not-an-object", timeout=10)
    assert ack["ok"] is False and ack["error"]["code"] == "validation_error"
    await client.disconnect()


async def test_welcome_action_emits_a_decodable_event(captured_events):
    import msgspec

    from db.auth.tables import User
    from server.domains.auth.actions import do_welcome
    from server.domains.auth.events import SessionWelcome

    rows = await User.insert(
        User(platform="stam", email="w@example.com", display_name="W")
    ).returning(User.id)
    assert await do_welcome(rows[0]["id"], worker="celery@test") is True
    (event,) = captured_events
    decoded = msgspec.convert(event["payload"], SessionWelcome)
    assert event["room"] == f"user:{rows[0]['id']}" and decoded.user.display_name == "W"
    assert decoded.platform == "stam" and decoded.worker == "celery@test"


async def test_in_order_turns_run_one_at_a_time_per_socket_and_keep_nothing_after():
    from server.sockets.handlers import InOrder

    turns, log = InOrder(), []

    async def step(sid: str, n: int, pause: float) -> None:
        async with turns.turn(sid):
            log.append(f"{sid}{n} in")
            await asyncio.sleep(pause)
            log.append(f"{sid}{n} out")

    # a1 is slow: a2 and a3 wait their turn in arrival order, b1 runs meanwhile.
    await asyncio.gather(step("a", 1, 0.05), step("a", 2, 0), step("b", 1, 0), step("a", 3, 0))
    assert log == ["a1 in", "b1 in", "b1 out", "a1 out", "a2 in", "a2 out", "a3 in", "a3 out"]
    assert len(turns) == 0


def test_acks_keep_their_wire_shape():
    import msgspec

    from server.sockets.handlers import Done, Welcoming, fail, ok

    assert msgspec.to_builtins(ok(Welcoming(user_id=3))) == {"ok": True, "data": {"user_id": 3}}
    assert msgspec.to_builtins(ok(Done())) == {"ok": True, "data": {}}
    assert msgspec.to_builtins(fail("slow_mode", "Wait", {"retry_after": 2})) == {
        "ok": False,
        "error": {"code": "slow_mode", "message": "Wait", "details": {"retry_after": 2}},
    }
    assert msgspec.to_builtins(fail("internal_error", "Oops")) == {
        "ok": False,
        "error": {"code": "internal_error", "message": "Oops", "details": None},
    }
