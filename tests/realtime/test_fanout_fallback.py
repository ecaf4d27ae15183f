"""A library version the engine was not written for: stock python-socketio, loudly, still delivering."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from db.auth.tables import User
from devtools.procs import free_port
from devtools.stack import procfile_argv
from tests.conftest import LiveServer, _managed
from tests.factories import make_channel, make_guild, make_member
from tests.harness import Stack, http_ready
from tests.realtime.clients import Inbox, connect, sign_in
from tests.realtime.fanout_mismatch_server import FAKE_VERSION


@pytest.fixture(scope="module")
def mismatched_server(stack: Stack, live_server: LiveServer) -> Iterator[LiveServer]:
    """A web process like the Procfile's, on a python-socketio version the engine does not know."""
    port = free_port()
    env = {**stack.env, "PORT": str(port), "LOG_JSON": "1"}
    argv = procfile_argv("web", env)
    assert argv[0].endswith("uvicorn") and "realtime.fanout:LeanWebSocketProtocol" in argv
    launcher = [sys.executable, "-m", "tests.realtime.fanout_mismatch_server", *argv[1:]]
    healthz = f"http://127.0.0.1:{port}/healthz"
    process = _managed(stack, "web-mismatch", launcher, http_ready(healthz), env=env)
    yield LiveServer(port=port, process=process.start())
    process.stop()


async def test_a_version_mismatch_falls_back_loudly_and_still_delivers(
    live_server, mismatched_server, read_mail
):
    base = mismatched_server.weokto_url
    log = mismatched_server.process.log_path.read_text()
    assert "fanout engine disabled" in log and f"expected 5.18.1, installed {FAKE_VERSION}" in log

    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
        ready = (await http.get("/readyz")).json()
    assert re.search(r"^realtime_fanout_engine_active 0\.0$", metrics, re.M), metrics
    assert re.search(
        r'^realtime_fanout_version_mismatch_info\{[^}]*installed="5\.99\.0"[^}]*'
        r'package="python-socketio"[^}]*\} 1\.0$',
        metrics,
        re.M,
    ), metrics
    fanout = ready["checks"]["fanout"]
    assert fanout["ok"] is True and fanout["detail"].startswith("fallback: library versions")

    # A room event still reaches a real socket client through the stock library.
    guild = await make_guild(slug=f"fb-{uuid.uuid4().hex[:6]}")
    channel = await make_channel(guild["id"])
    cookies = []
    for name in ("fa", "fb"):
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        cookies.append(await sign_in(live_server.weokto_url, email, read_mail))
        user = await User.select().where(User.email == email).first()
        await make_member(guild["id"], user["id"])
    sender = await connect(base, cookies[0], origin=live_server.weokto_url)
    receiver = await connect(base, cookies[1], origin=live_server.weokto_url)
    inbox = Inbox(receiver, "new_message")
    for client in (sender, receiver):
        ack = await client.call("join_channel", {"channel_id": channel["id"]}, timeout=10)
        assert ack["ok"], ack
    ack = await sender.call(
        "send_message",
        {"channel_id": channel["id"], "content": "via the fallback", "client_msg_id": "fb-1"},
        timeout=10,
    )
    assert ack["ok"], ack
    await inbox.wait(lambda i: i.of("new_message"))
    assert inbox.of("new_message")[0]["message"]["content"] == "via the fallback"
    await sender.disconnect()
    await receiver.disconnect()
