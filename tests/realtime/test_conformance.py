"""The official JavaScript socket.io-client against our server and its fan-out engine.

realtime/fanout/ hooks private parts of python-socketio / python-engineio (pinned versions);
this drives the real client through connect with auth, rejected auth, emit with ack, room
broadcast and order, leaving a room and error acks, on each transport, so that a library
upgrade which breaks the engine fails here. The server's /metrics tell which delivery path
served the recipients, so the test also proves websocket clients took the inline path.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from db.auth.tables import User
from tests.factories import make_channel, make_guild, make_member
from tests.realtime.clients import sign_in

SCRIPT = Path(__file__).with_name("conformance.js")
NODE = shutil.which("node")


async def _fanout_counts(base: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base) as http:
        text = (await http.get("/metrics")).text
    found = re.findall(
        r'^realtime_fanout_recipients_total\{path="(\w+)"\} ([0-9.e+]+)$', text, re.M
    )
    return {path: float(value) for path, value in found}


def _require_node() -> str:
    # Never a skip: this is the check that a library upgrade has not broken the engine for the
    # real client, so a machine without Node.js must fail here (`make deps` installs it).
    if NODE is None:
        pytest.fail("node is not installed: run `make deps` (the conformance test needs it)")
    client = SCRIPT.parents[2] / "node_modules" / "socket.io-client"
    if not client.is_dir():
        pytest.fail("node_modules/socket.io-client is missing: run `make deps`")
    return NODE


async def _run_client(args: dict) -> dict:
    proc = await asyncio.create_subprocess_exec(
        _require_node(),
        str(SCRIPT),
        json.dumps(args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    report = json.loads(out or b"{}")
    assert proc.returncode == 0 and "error" not in report, (report, err.decode()[-2000:])
    return report


@pytest.mark.parametrize(
    "transports",
    [["websocket"], None, ["polling"]],
    ids=["websocket-only", "default-upgrade", "polling-only"],
)
async def test_official_client_conforms(live_server, read_mail, transports):
    base = live_server.weokto_url
    guild = await make_guild(slug=f"conf-{uuid.uuid4().hex[:6]}")
    channel = await make_channel(guild["id"])
    cookies = []
    for name in ("ca", "cb", "cc"):
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        cookies.append(await sign_in(base, email, read_mail))
        user = await User.select().where(User.email == email).first()
        await make_member(guild["id"], user["id"])
    before = await _fanout_counts(base)

    report = await _run_client(
        {
            "base": base,
            "cookieA": cookies[0],
            "cookieB": cookies[1],
            "cookieC": cookies[2],
            "channelId": channel["id"],
            "transports": transports,
        }
    )

    assert report["rejected"]["connected"] is False, report["rejected"]
    assert (report["rejected"]["data"] or {}).get("code") == "unauthorized", report["rejected"]
    expected = "polling" if transports == ["polling"] else "websocket"
    assert report["transports"] == [expected, expected]
    assert report["joinA"]["ok"] and report["joinB"]["ok"] and report["joinC"]["ok"]
    assert report["sendOk"]
    # Concurrent sends commit in seq order but publish after commit, so their pushes may
    # arrive in another order (docs/realtime.md); each arrives once, with no gap.
    assert sorted(report["burstSeqs"]) == list(range(1, 6)) == report["ackSeqs"]
    assert report["leave"]["ok"] and report["rejoin"]["ok"]
    assert report["awayPushedToB"] is False
    # What was not pushed while away comes back in the rejoin's catch-up.
    assert [m["seq"] for m in report["rejoin"]["data"]["messages"]] == [report["awaySeq"]]
    assert report["backSeq"] == report["awaySeq"] + 1
    assert report["badAck"]["ok"] is False and report["badAck"]["error"]["code"]
    assert report["stillConnected"] is True

    after = await _fanout_counts(base)
    delta = {path: after.get(path, 0) - before.get(path, 0) for path in after}
    # B alone got 6 room messages (the burst and "b is back") on the path of its transport:
    # on websocket the shared frame bytes (the Procfile turns off permessage-deflate).
    assert delta["library" if transports == ["polling"] else "shared"] >= 6, delta
