"""Chat over real Socket.IO servers: live delivery, reconnect catch-up, refusals, scale-out."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from db.auth.tables import User
from db.guilds.tables import Channel
from tests.factories import make_channel, make_guild, make_member
from tests.realtime.clients import Inbox, connect, sign_in


async def _member(base: str, email: str, read_mail, guild_id: int, role: str = "member"):
    cookie = await sign_in(base, email, read_mail)
    user = await User.select().where(User.email == email).first()
    await make_member(guild_id, user["id"], role=role)
    return cookie, user


async def _send(client, channel_id: int, text: str, cmid: str | None = None) -> dict:
    ack = await client.call(
        "send_message",
        {"channel_id": channel_id, "content": text, "client_msg_id": cmid or uuid.uuid4().hex},
        timeout=10,
    )
    assert ack["ok"], ack
    return ack["data"]["message"]


@pytest.fixture
async def room():
    guild = await make_guild(slug=f"sock-{uuid.uuid4().hex[:6]}")
    channel = await make_channel(guild["id"])
    return guild, channel


async def test_message_is_pushed_live_to_the_other_member(live_server, read_mail, room):
    guild, channel = room
    base = live_server.weokto_url
    a_cookie, _ = await _member(base, "a@example.com", read_mail, guild["id"])
    b_cookie, _ = await _member(base, "b@example.com", read_mail, guild["id"])
    a, b = await connect(base, a_cookie), await connect(base, b_cookie)
    inbox = Inbox(b, "new_message", "channel_activity")
    for c in (a, b):
        ack = await c.call("join_channel", {"channel_id": channel["id"]}, timeout=10)
        assert ack["ok"] and ack["data"]["messages"] == [] and ack["data"]["resync"] is False
    sent = await _send(a, channel["id"], "hello **b**")
    await inbox.wait(lambda i: i.of("new_message") and i.of("channel_activity"))
    pushed = inbox.of("new_message")[0]["message"]
    assert (
        pushed["id"] == sent["id"] and pushed["seq"] == 1 and "<strong>b</strong>" in pushed["html"]
    )
    assert inbox.of("channel_activity")[0]["last_seq"] == 1
    await a.disconnect()
    await b.disconnect()


async def test_messages_sent_back_to_back_are_stored_in_the_order_they_were_sent(
    live_server, read_mail, room
):
    # A composer sends each message as it is typed, without waiting for the previous ack.
    guild, channel = room
    base, cid = live_server.weokto_url, channel["id"]
    cookie, _ = await _member(base, "burst@example.com", read_mail, guild["id"])
    a = await connect(base, cookie)
    await a.call("join_channel", {"channel_id": cid}, timeout=10)
    texts = [f"burst {i}" for i in range(5)]  # the most the send limit allows
    acks = await asyncio.gather(
        *(
            a.call(
                "send_message",
                {"channel_id": cid, "content": t, "client_msg_id": uuid.uuid4().hex},
                timeout=10,
            )
            for t in texts
        )
    )
    assert all(ack["ok"] for ack in acks), acks
    stored = sorted(
        (ack["data"]["message"]["seq"], ack["data"]["message"]["content"]) for ack in acks
    )
    assert stored == list(enumerate(texts, start=1))
    await a.disconnect()


async def test_reconnect_with_since_seq_gets_every_missed_message_once_in_order(
    live_server, read_mail, room
):
    guild, channel = room
    base, cid = live_server.weokto_url, channel["id"]
    a_cookie, _ = await _member(base, "ra@example.com", read_mail, guild["id"])
    b_cookie, _ = await _member(base, "rb@example.com", read_mail, guild["id"])
    a, b = await connect(base, a_cookie), await connect(base, b_cookie)
    await a.call("join_channel", {"channel_id": cid}, timeout=10)
    await b.call("join_channel", {"channel_id": cid}, timeout=10)
    first = await _send(a, cid, "before the drop")
    await b.disconnect()
    missed = [await _send(a, cid, f"while away {i}") for i in range(3)]
    b = await connect(base, b_cookie)
    ack = await b.call("join_channel", {"channel_id": cid, "since_seq": first["seq"]}, timeout=10)
    got = ack["data"]["messages"]
    assert [m["seq"] for m in got] == [2, 3, 4] and [m["id"] for m in got] == [
        m["id"] for m in missed
    ]
    assert ack["data"]["last_seq"] == 4
    # Live again after the catch-up.
    inbox = Inbox(b, "new_message")
    await _send(a, cid, "live again")
    await inbox.wait(lambda i: i.of("new_message"))
    assert inbox.of("new_message")[0]["message"]["seq"] == 5
    await a.disconnect()
    await b.disconnect()


async def test_resend_after_a_lost_ack_is_not_duplicated(live_server, read_mail, room):
    guild, channel = room
    base = live_server.weokto_url
    cookie, _ = await _member(base, "dup@example.com", read_mail, guild["id"])
    client = await connect(base, cookie)
    first = await client.call(
        "send_message",
        {"channel_id": channel["id"], "content": "x", "client_msg_id": "same"},
        timeout=10,
    )
    await client.disconnect()
    client = await connect(base, cookie)
    again = await client.call(
        "send_message",
        {"channel_id": channel["id"], "content": "x", "client_msg_id": "same"},
        timeout=10,
    )
    assert again["data"]["duplicate"] is True
    assert again["data"]["message"]["id"] == first["data"]["message"]["id"]
    await client.disconnect()


async def test_far_behind_client_is_told_to_resync(live_server, read_mail, room):
    guild, channel = room
    base = live_server.weokto_url
    cookie, user = await _member(base, "far@example.com", read_mail, guild["id"])
    await Channel.raw(
        "WITH s AS (UPDATE channels SET last_seq = 600 WHERE id = {} RETURNING id) "
        "INSERT INTO messages (channel, seq, author, client_msg_id, content, html, mentions, "
        "created_at) SELECT {}, g, {}, 'bulk-' || g, 'm', '<p>m</p>', '{{}}', now() "
        "FROM generate_series(1, 600) g",
        channel["id"],
        channel["id"],
        user["id"],
    )
    client = await connect(base, cookie)
    ack = await client.call(
        "join_channel", {"channel_id": channel["id"], "since_seq": 10}, timeout=10
    )
    assert ack["data"]["resync"] is True and ack["data"]["messages"] == []
    near = await client.call(
        "join_channel", {"channel_id": channel["id"], "since_seq": 590}, timeout=10
    )
    assert [m["seq"] for m in near["data"]["messages"]] == list(range(591, 601))
    await client.disconnect()


async def test_refusals_come_back_as_error_acks(live_server, read_mail, room):
    guild, channel = room
    paid = await make_channel(guild["id"], name="vip", requires_paid=True)
    base = live_server.weokto_url
    outsider = await connect(base, await sign_in(base, "out@example.com", read_mail))
    ack = await outsider.call("join_channel", {"channel_id": channel["id"]}, timeout=10)
    # A socket's messages are in the user's saved language, else the platform's (French).
    assert ack == {
        "ok": False,
        "error": {
            "code": "not_member",
            "message": "Rejoignez d'abord cette guilde",
            "details": None,
        },
    }
    cookie, _ = await _member(base, "in@example.com", read_mail, guild["id"])
    member = await connect(base, cookie)
    ack = await member.call("join_channel", {"channel_id": paid["id"]}, timeout=10)
    assert ack["error"]["code"] == "paid_required"
    for bad in (
        {"channel_id": channel["id"]},
        {"channel_id": "x", "content": "a", "client_msg_id": "b"},
        "nope",
        None,
    ):
        ack = await member.call("send_message", bad, timeout=10)
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error", bad
    ack = await member.call(
        "send_message", {"channel_id": 2**40, "content": "a", "client_msg_id": "c"}, timeout=10
    )
    assert ack["ok"] is False and ack["error"]["code"] == "validation_error"
    await outsider.disconnect()
    await member.disconnect()


async def test_kicked_member_stops_receiving_the_channel(live_server, read_mail, room):
    guild, channel = room
    base, cid = live_server.weokto_url, channel["id"]
    mod_cookie, _ = await _member(base, "kmod@example.com", read_mail, guild["id"], "moderator")
    cookie, user = await _member(base, "kicked@example.com", read_mail, guild["id"])
    mod, victim = await connect(base, mod_cookie), await connect(base, cookie)
    inbox = Inbox(victim, "new_message", "member_removed")
    await mod.call("join_channel", {"channel_id": cid}, timeout=10)
    await victim.call("join_channel", {"channel_id": cid}, timeout=10)
    import httpx

    async with httpx.AsyncClient(base_url=base) as http:
        for pair in mod_cookie.split("; "):
            k, v = pair.split("=", 1)
            http.cookies.set(k, v)
        res = await http.post(
            f"/api/guilds/{guild['slug']}/members/{user['id']}/kick",
            json={"reason": "bye"},
            headers={"x-csrftoken": http.cookies["csrftoken"]},
        )
        assert res.status_code == 200
    await inbox.wait(lambda i: i.of("member_removed"))
    await _send(mod, cid, "after the kick")
    await asyncio.sleep(1.0)  # a delivery would have arrived by now
    assert inbox.of("new_message") == []
    ack = await victim.call("join_channel", {"channel_id": cid}, timeout=10)
    assert ack["error"]["code"] == "not_member"
    await mod.disconnect()
    await victim.disconnect()


async def test_two_server_processes_behave_as_one(live_server, second_server, read_mail, room):
    """A on process 1, B on process 2: messages, typing and presence cross through Redis."""
    guild, channel = room
    cid = channel["id"]
    a_cookie, a_user = await _member(
        live_server.weokto_url, "p1@example.com", read_mail, guild["id"]
    )
    b_cookie, _ = await _member(live_server.weokto_url, "p2@example.com", read_mail, guild["id"])
    b = await connect(second_server.weokto_url, b_cookie, origin=live_server.weokto_url)
    inbox = Inbox(b, "new_message", "typing", "presence")
    await b.call("join_channel", {"channel_id": cid}, timeout=10)
    a = await connect(live_server.weokto_url, a_cookie)
    await inbox.wait(
        lambda i: any(
            p["user_id"] == a_user["id"] and p["status"] == "online" for p in i.of("presence")
        )
    )
    await a.call("join_channel", {"channel_id": cid}, timeout=10)
    assert (await a.call("typing", {"channel_id": cid}, timeout=10))["data"]["sent"] is True
    assert (await a.call("typing", {"channel_id": cid}, timeout=10))["data"]["sent"] is False
    await _send(a, cid, "across processes")
    await inbox.wait(lambda i: i.of("new_message") and i.of("typing"))
    assert inbox.of("new_message")[0]["message"]["content"] == "across processes"
    assert inbox.of("typing")[0]["user"]["id"] == a_user["id"]
    await a.disconnect()
    await inbox.wait(
        lambda i: any(
            p["user_id"] == a_user["id"] and p["status"] == "offline" for p in i.of("presence")
        )
    )
    await b.disconnect()


async def test_presence_survives_closing_one_of_two_tabs(
    live_server, second_server, read_mail, room
):
    guild, _ = room
    a_cookie, a_user = await _member(
        live_server.weokto_url, "tabs@example.com", read_mail, guild["id"]
    )
    b_cookie, _ = await _member(live_server.weokto_url, "watch@example.com", read_mail, guild["id"])
    watcher = await connect(live_server.weokto_url, b_cookie)
    inbox = Inbox(watcher, "presence")
    tab1 = await connect(live_server.weokto_url, a_cookie)
    tab2 = await connect(second_server.weokto_url, a_cookie, origin=live_server.weokto_url)

    def statuses(i: Inbox) -> list[str]:
        return [p["status"] for p in i.of("presence") if p["user_id"] == a_user["id"]]

    await inbox.wait(lambda i: statuses(i))
    await tab1.disconnect()
    await asyncio.sleep(1.0)
    assert statuses(inbox) == ["online"]  # one tab is still open on the other process
    await tab2.disconnect()
    await inbox.wait(lambda i: statuses(i) == ["online", "offline"])
    await watcher.disconnect()


async def test_join_acks_carry_read_markers_and_the_dm_partner(live_server, read_mail, room):
    guild, channel = room
    base, cid = live_server.weokto_url, channel["id"]
    a_cookie, a_user = await _member(base, "ja@example.com", read_mail, guild["id"])
    b_cookie, b_user = await _member(base, "jb@example.com", read_mail, guild["id"])
    a, b = await connect(base, a_cookie), await connect(base, b_cookie)
    for i in range(3):
        await _send(a, cid, f"m{i}")
    assert (await b.call("mark_read", {"channel_id": cid, "seq": 2}, timeout=10))["ok"]
    ack = await b.call("join_channel", {"channel_id": cid}, timeout=10)
    assert ack["data"]["channel"]["last_read_seq"] == 2 and ack["data"]["channel"]["unread"] == 1
    sent = await a.call(
        "send_dm", {"user_id": b_user["id"], "content": "psst", "client_msg_id": "dm-1"}, timeout=10
    )
    assert sent["ok"], sent
    dm = await b.call("join_dm", {"user_id": a_user["id"]}, timeout=10)
    conv = dm["data"]["conversation"]
    assert conv["other"] == {"id": a_user["id"], "display_name": a_user["display_name"]}
    assert (conv["unread"], conv["blocked"]) == (1, False)
    assert [m["content"] for m in dm["data"]["messages"]] == ["psst"]
    await a.disconnect()
    await b.disconnect()
