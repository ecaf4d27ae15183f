"""Socket events are rate-limited per user and kind, pushes are coalesced, payloads are bounded."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import websockets

from db.chat.tables import Message, Reaction
from tests.factories import make_channel, make_guild
from tests.realtime.clients import Inbox, connect
from tests.realtime.test_chat_socket import _member, _send


@pytest.fixture
async def room():
    guild = await make_guild(slug=f"lim-{uuid.uuid4().hex[:6]}")
    channel = await make_channel(guild["id"])
    return guild, channel


def test_every_socket_event_has_a_limit():
    import server.sockets  # noqa: F401  -- registers the handlers
    from realtime.sio import sio
    from server.sockets.handlers import LIMITS

    events = set(sio.handlers["/"]) - {"connect", "disconnect"}
    assert events and events <= set(LIMITS), events - set(LIMITS)
    assert all(limit.max_hits > 0 and limit.window_s > 0 for limit in LIMITS.values())


async def test_a_burst_of_edits_and_reactions_is_limited_and_coalesced(
    live_server, read_mail, room
):
    guild, channel = room
    base, cid = live_server.weokto_url, channel["id"]
    a_cookie, _ = await _member(base, "burst-a@example.com", read_mail, guild["id"])
    b_cookie, _ = await _member(base, "burst-b@example.com", read_mail, guild["id"])
    a, b = await connect(base, a_cookie), await connect(base, b_cookie)
    for c in (a, b):
        assert (await c.call("join_channel", {"channel_id": cid}, timeout=10))["ok"]
    inbox = Inbox(b, "message_edited", "reaction_updated")
    msg = await _send(a, cid, "original")
    emojis = ["👍", "🎉", "❤️", "🔥", "👀"]
    edits = [
        a.call("edit_message", {"message_id": msg["id"], "content": f"v{i}"}, timeout=20)
        for i in range(100)
    ]
    reacts = [
        a.call("react", {"message_id": msg["id"], "emoji": emojis[i % 5]}, timeout=20)
        for i in range(100)
    ]
    started = time.monotonic()
    acks = await asyncio.gather(*edits, *reacts)
    burst_s = time.monotonic() - started
    refused = [ack for ack in acks if not ack["ok"]]
    assert refused and all(ack["error"]["code"] == "rate_limited" for ack in refused), refused[:3]
    assert all(ack["error"]["details"]["retry_after"] > 0 for ack in refused)
    accepted_edits = sum(1 for ack in acks[:100] if ack["ok"])
    accepted_reacts = sum(1 for ack in acks[100:] if ack["ok"])
    await asyncio.sleep(3.0)  # two coalescing windows: every trailing push has left
    pushes = len(inbox.items)
    print(
        f"\nburst of 100 edits + 100 reactions in {burst_s:.2f} s: "
        f"{accepted_edits} edits and {accepted_reacts} reactions accepted, "
        f"{len(refused)} refused, {pushes} pushes to another member "
        f"({len(inbox.of('message_edited'))} message_edited, "
        f"{len(inbox.of('reaction_updated'))} reaction_updated)"
    )
    assert 0 < accepted_edits < 100 and 0 < accepted_reacts < 100
    assert pushes <= 12, pushes
    # Coalescing never loses the end state: the last push of each kind is what is stored.
    stored = await Message.select(Message.content).where(Message.id == msg["id"]).first()
    assert inbox.of("message_edited")[-1]["message"]["content"] == stored["content"]
    rows = await Reaction.select(Reaction.emoji).where(Reaction.message == msg["id"])
    pushed = inbox.of("reaction_updated")[-1]["reactions"]
    assert sorted(r["emoji"] for r in pushed if r["count"]) == sorted({r["emoji"] for r in rows})
    await a.disconnect()
    await b.disconnect()


async def _until_limited(client, name: str, payload, calls: int = 150) -> list[dict]:
    acks = []
    for i in range(calls):
        data = payload(i) if callable(payload) else payload
        ack = await client.call(name, data, timeout=10)
        acks.append(ack)
        if not ack["ok"] and ack["error"]["code"] == "rate_limited":
            break
    return acks


async def test_every_kind_of_event_is_limited_on_its_own(live_server, read_mail, room):
    guild, channel = room
    base, cid = live_server.weokto_url, channel["id"]
    cookie, _ = await _member(base, "kinds@example.com", read_mail, guild["id"])
    _, other = await _member(base, "kinds-peer@example.com", read_mail, guild["id"])
    client = await connect(base, cookie)
    assert (await client.call("join_channel", {"channel_id": cid}, timeout=10))["ok"]
    msg = await _send(client, cid, "target")
    kinds = [
        ("hello", {}),
        ("join_channel", {"channel_id": cid}),
        ("edit_message", lambda i: {"message_id": msg["id"], "content": f"e{i}"}),
        ("react", lambda i: {"message_id": msg["id"], "emoji": "👍"}),
        ("typing", {"channel_id": cid}),
        ("mark_read", {"channel_id": cid, "seq": 1}),
        ("delete_message", {"message_id": msg["id"]}),
    ]
    for name, payload in kinds:
        acks = await _until_limited(client, name, payload)
        assert acks[0]["ok"], (name, acks[0])
        last = acks[-1]
        assert not last["ok"] and last["error"]["code"] == "rate_limited", (name, last)
        assert last["error"]["details"]["retry_after"] > 0
        assert all(ack["ok"] for ack in acks[:-1]), name
    # Joins of any kind share one budget, spent above by join_channel.
    ack = await client.call("join_dm", {"user_id": other["id"]}, timeout=10)
    assert not ack["ok"] and ack["error"]["code"] == "rate_limited", ack
    await client.disconnect()


async def test_deeply_nested_socket_payload_gets_an_error_ack(live_server, read_mail, room):
    guild, _ = room
    base = live_server.weokto_url
    cookie, _ = await _member(base, "deep@example.com", read_mail, guild["id"])
    url = base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    headers = {"Cookie": cookie, "Origin": base}
    async with websockets.connect(url, additional_headers=headers) as ws:
        assert (await ws.recv()).startswith("0")  # Engine.IO open
        await ws.send("40")
        while not (await asyncio.wait_for(ws.recv(), 10)).startswith("40"):
            pass  # presence pushes may come first
        deep = "[" * 5000 + "]" * 5000
        await ws.send(f'42{7}["edit_message",{deep}]')
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if frame.startswith("437"):
                break
        ack = json.loads(frame[3:])[0]
    assert ack["ok"] is False and ack["error"]["code"] == "payload_too_deep", ack
