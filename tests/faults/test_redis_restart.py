"""A Redis restart loses nothing acknowledged: sends keep working, pushes resume, gaps fill."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from db.auth.tables import User
from devtools.embedded import start_redis
from devtools.procs import free_port
from devtools.stack import procfile_argv
from tests.factories import make_channel, make_guild, make_member
from tests.harness import ManagedProcess, http_ready
from tests.realtime.clients import Inbox, connect, sign_in


@pytest.fixture
def own_redis_server(stack, tmp_path: Path, live_server):
    """A web process on a Redis of its own, which the test may stop and start again."""
    redis = start_redis(tmp_path / "redis", persist=False)
    port = free_port()
    env = {**stack.env, "PORT": str(port), "REDIS_URL": redis.url}
    web = ManagedProcess(
        name="web-fault",
        argv=procfile_argv("web", env),
        env=env,
        log_path=tmp_path / "web-fault.log",
        ready=http_ready(f"http://127.0.0.1:{port}/healthz"),
    )
    web.start()
    state = {"redis": redis, "port": port, "web": web, "dir": tmp_path / "redis"}
    yield state
    web.stop()
    state["redis"].stop()


async def test_messages_sent_while_redis_is_down_are_caught_up(
    own_redis_server, live_server, read_mail
):
    guild = await make_guild(slug=f"fault-{uuid.uuid4().hex[:6]}")
    channel = await make_channel(guild["id"])
    cid = channel["id"]
    # Sign in through the main server (mail goes through its worker); the cookie is valid on
    # every process of the platform.
    cookies = []
    for email in ("fa@example.com", "fb@example.com"):
        cookies.append(await sign_in(live_server.weokto_url, email, read_mail))
        user = await User.select().where(User.email == email).first()
        await make_member(guild["id"], user["id"])
    base = f"http://localhost:{own_redis_server['port']}"
    a = await connect(base, cookies[0], origin=live_server.weokto_url)
    b = await connect(base, cookies[1], origin=live_server.weokto_url)
    inbox = Inbox(b, "new_message")
    await a.call("join_channel", {"channel_id": cid}, timeout=10)
    await b.call("join_channel", {"channel_id": cid}, timeout=10)

    async def send(text: str) -> dict:
        ack = await a.call(
            "send_message",
            {"channel_id": cid, "content": text, "client_msg_id": uuid.uuid4().hex},
            timeout=10,
        )
        assert ack["ok"], ack
        return ack["data"]["message"]

    assert (await send("before"))["seq"] == 1
    await inbox.wait(lambda i: len(i.of("new_message")) == 1)

    own_redis_server["redis"].stop()
    during = [await send(f"during {n}") for n in range(3)]  # acked: they are in PostgreSQL
    assert [m["seq"] for m in during] == [2, 3, 4]
    own_redis_server["redis"] = start_redis(
        own_redis_server["dir"], persist=False, port=own_redis_server["redis"].port
    )

    # Pushes resume once the server's Redis listener reconnects (it backs off up to seconds).
    for attempt in range(30):
        await send(f"after {attempt}")
        try:
            await inbox.wait(
                lambda i: any(m["message"]["seq"] > 4 for m in i.of("new_message")), timeout=1.0
            )
            break
        except TimeoutError:
            continue
    else:
        pytest.fail("pushes did not resume after the Redis restart")
    seen = {m["message"]["seq"] for m in inbox.of("new_message")}
    assert not {2, 3, 4} & seen  # those pushes were lost with Redis ...
    # ... and the client sees the gap and catches up from its last contiguous seq.
    ack = await b.call("join_channel", {"channel_id": cid, "since_seq": 1}, timeout=10)
    caught = [m["seq"] for m in ack["data"]["messages"]]
    assert caught == list(range(2, ack["data"]["last_seq"] + 1))
    assert sorted(seen | set(caught) | {1}) == list(range(1, ack["data"]["last_seq"] + 1))
    await a.disconnect()
    await b.disconnect()
