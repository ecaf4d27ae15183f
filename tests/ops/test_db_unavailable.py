"""PostgreSQL down or restarting: a request gets a 503 `unavailable`, a socket event an
`unavailable` error ack, never a 500 or an `internal_error` (the fault suite's immediate stop)."""

from __future__ import annotations

import asyncpg
import pytest

from db.engine import UNAVAILABLE_ERRORS

OUTAGE = [
    FileNotFoundError(2, "No such file or directory"),  # the Unix socket is gone
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
]


def _raising(exc: Exception):
    async def fail(*_args, **_kwargs):
        raise exc

    return fail


@pytest.mark.parametrize("exc", OUTAGE, ids=lambda e: type(e).__name__)
async def test_a_request_during_an_outage_is_a_503_unavailable(client, monkeypatch, exc):
    import server.domains.auth.middleware as middleware

    monkeypatch.setattr(middleware, "user_for_cookie_header", _raising(exc))
    res = await client.get("/api/auth/me")
    assert res.status_code == 503, res.text
    assert res.json()["error"]["code"] == "unavailable"
    assert res.json()["error"]["message"] == (
        "The service is briefly unavailable, try again shortly"
    )
    assert res.headers["retry-after"] == "5"


async def test_the_503_speaks_the_readers_language(client, monkeypatch):
    import server.domains.auth.middleware as middleware

    monkeypatch.setattr(middleware, "user_for_cookie_header", _raising(OUTAGE[0]))
    res = await client.get("/api/auth/me", headers={"accept-language": "fr"})
    assert res.json()["error"]["message"] == (
        "Le service est momentanément indisponible, réessayez dans un instant"
    )


@pytest.mark.parametrize("exc", OUTAGE, ids=lambda e: type(e).__name__)
async def test_a_socket_event_during_an_outage_gets_an_unavailable_ack(db, monkeypatch, exc):
    import server.sockets.handlers as handlers
    from realtime.sio import sio

    monkeypatch.setattr(handlers, "socket_user", _raising(exc))
    send = sio.handlers["/"]["send_message"]
    ack = await send("sid-x", {"channel_id": 1, "content": "hi", "client_msg_id": "c1"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "unavailable"
    # No session to read a language from: the default (French).
    assert ack["error"]["message"].startswith("Le service est momentanément indisponible")


def test_the_outage_errors_are_not_query_errors():
    # A bad query stays a bug (500) or bad input (400): only the connection failing is mapped.
    assert not issubclass(asyncpg.exceptions.UndefinedTableError, UNAVAILABLE_ERRORS)
    assert not issubclass(asyncpg.exceptions.DataError, UNAVAILABLE_ERRORS)
