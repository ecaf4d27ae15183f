"""Guild membership, primary guild, channel listing with unread counts, paid channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.auth.tables import User
from db.guilds.tables import Guild
from devtools.seed import seed
from server.domains.chat import actions as chat
from tests.factories import (
    as_user,
    make_channel,
    make_guild,
    make_member,
    make_room,
    make_user,
)


async def test_seed_creates_the_demo_guilds_once():
    await seed()
    await seed()
    slugs = {g["slug"]: g for g in await Guild.select()}
    assert {"community-academy", "tbcb", "stam-studio"} <= set(slugs)
    assert slugs["stam-studio"]["platform"] == "stam" and slugs["tbcb"]["tier"] == "premium"


async def test_seeded_categories_and_messages(client, login):
    await seed()
    await login(client, "member@weokto.local")
    assert (await client.post("/api/guilds/community-academy/join")).status_code == 200
    body = (await client.get("/api/guilds/community-academy/channels")).json()
    names = [c["name"] for c in body["categories"]]
    assert names == ["Annonces", "Général", "Formations", "Wins", "Support"]
    general = body["categories"][1]["channels"][0]
    assert general["name"] == "general" and general["last_seq"] == 3 and general["unread"] == 3
    formations = body["categories"][2]["channels"][0]
    assert formations["requires_paid"] and not formations["can_read"]


async def test_join_list_leave(client, login):
    guild = await make_guild(slug="alpha")
    await make_guild(platform="stam", slug="beta")
    await login(client, "joiner@example.com")
    listed = (await client.get("/api/guilds")).json()
    assert [g["slug"] for g in listed] == ["alpha"] and not listed[0]["is_member"]
    res = await client.post("/api/guilds/alpha/join")
    assert res.status_code == 200 and res.json()["role"] == "member"
    assert (await client.post("/api/guilds/alpha/join")).status_code == 200  # idempotent
    assert (await client.get("/api/guilds/alpha")).json()["member_count"] == 1
    assert (await client.get("/api/guilds/beta")).status_code == 404  # other platform
    assert (await client.post("/api/guilds/alpha/leave")).status_code == 200
    assert (await client.get("/api/guilds/alpha/membership")).status_code == 404
    assert guild["id"]


async def test_primary_guild_changes_once_per_30_days(client, login):
    await make_guild(slug="one")
    await make_guild(slug="two")
    await login(client, "primary@example.com")
    assert (await client.post("/api/guilds/one/primary")).status_code == 403  # join first
    await client.post("/api/guilds/one/join")
    await client.post("/api/guilds/two/join")
    first = await client.post("/api/guilds/one/primary")
    assert first.status_code == 200
    me = (await client.get("/api/auth/me")).json()
    assert me["primary_guild_id"] == first.json()["guild_id"]
    locked = await client.post("/api/guilds/two/primary")
    assert locked.status_code == 409
    err = locked.json()["error"]
    assert err["code"] == "primary_guild_locked"
    available = datetime.fromisoformat(err["details"]["available_at"])
    assert timedelta(days=29) < available - datetime.now(UTC) <= timedelta(days=30)
    assert available.strftime("%Y-%m-%d") in err["message"]
    await User.update(
        {User.primary_guild_changed_at: datetime.now(UTC) - timedelta(days=31)}
    ).where(User.email == "primary@example.com")
    assert (await client.post("/api/guilds/two/primary")).status_code == 200


async def test_login_goes_home_once_a_primary_guild_is_chosen(make_client, login):
    await make_guild(slug="home-guild")
    client = await make_client()
    assert (await login(client, "h@example.com"))["redirect"] == "/choose-guild"
    await client.post("/api/guilds/home-guild/join")
    await client.post("/api/guilds/home-guild/primary")
    again = await make_client()
    assert (await login(again, "h@example.com"))["redirect"] == "/home"


async def test_unread_counts_follow_messages_and_read_markers(captured_events):
    room = await make_room(n_members=2)
    reader, writer = (as_user(u) for u in room["members"])
    cid = room["channel"]["id"]
    for i in range(3):
        await chat.check_send_message(writer, cid, f"m{i}", f"w{i}")
    from server.domains.guilds.queries import list_channels

    listed = await list_channels(reader, room["guild"]["slug"])
    assert listed.categories[0].channels[0].unread == 3
    res = await chat.check_mark_read(reader, 2, cid, None)
    assert (res.last_read_seq, res.unread) == (2, 1)
    event = [e for e in captured_events if e["event"] == "unread_updated"][-1]
    assert event["room"] == f"user:{reader.id}"
    assert event["payload"] == {
        "type": "unread_updated",
        "channel_id": cid,
        "conversation_id": None,
        "last_read_seq": 2,
        "unread": 1,
    }
    # Markers never move backwards and never past the end.
    assert (await chat.check_mark_read(reader, 1, cid, None)).last_read_seq == 2
    assert (await chat.check_mark_read(reader, 99, cid, None)).last_read_seq == 3
    # The writer's own messages count as read.
    own = await list_channels(writer, room["guild"]["slug"])
    assert own.categories[0].channels[0].unread == 0


async def test_paid_channel_needs_paid_access_granted_by_the_owner(make_client, login):
    guild = await make_guild(slug="paid")
    chan = await make_channel(guild["id"], name="vip", requires_paid=True)
    owner_client, member_client = await make_client(), await make_client()
    owner = await make_user("boss@example.com")
    await make_member(guild["id"], owner["id"], role="owner")
    await login(owner_client, "boss@example.com")
    member = (await login(member_client, "fan@example.com"))["user"]
    await member_client.post("/api/guilds/paid/join")
    denied = await member_client.get(f"/api/channels/{chan['id']}/messages")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "paid_required"
    res = await owner_client.post(
        f"/api/guilds/paid/members/{member['id']}/paid-access", json={"granted": True}
    )
    assert res.status_code == 200
    assert (await member_client.get(f"/api/channels/{chan['id']}/messages")).status_code == 200
    # Only the owner may grant it.
    other = await make_client()
    await login(other, "other@example.com")
    await other.post("/api/guilds/paid/join")
    res = await other.post(
        f"/api/guilds/paid/members/{member['id']}/paid-access", json={"granted": False}
    )
    assert res.status_code == 403


async def test_history_pagination_and_bounds(client, login):
    room = await make_room(n_members=1)
    writer = as_user(room["members"][0])
    cid = room["channel"]["id"]
    import server.domains.chat.actions as chat_actions
    from server.ratelimit import Limit

    chat_actions.SEND_LIMIT = Limit("chat-send", max_hits=1000, window_s=5)
    try:
        for i in range(120):
            await chat.check_send_message(writer, cid, f"m{i}", f"h{i}")
    finally:
        chat_actions.SEND_LIMIT = Limit("chat-send", max_hits=5, window_s=5)
    reader = (await login(client, "reader@example.com"))["user"]
    await make_member(room["guild"]["id"], reader["id"])
    latest = (await client.get(f"/api/channels/{cid}/messages?limit=100")).json()
    assert [m["seq"] for m in latest["messages"]] == list(range(21, 121))
    assert latest["has_more"] and latest["last_seq"] == 120
    older = (await client.get(f"/api/channels/{cid}/messages?before_seq=21&limit=100")).json()
    assert [m["seq"] for m in older["messages"]] == list(range(1, 21)) and not older["has_more"]
    newer = (await client.get(f"/api/channels/{cid}/messages?after_seq=115")).json()
    assert [m["seq"] for m in newer["messages"]] == [116, 117, 118, 119, 120]
    for bad in ("limit=101", "limit=0", "before_seq=-1", "before_seq=5&after_seq=2", "limit=x"):
        res = await client.get(f"/api/channels/{cid}/messages?{bad}")
        assert res.status_code == 400, bad


async def test_history_is_refused_to_non_members(client, login):
    room = await make_room()
    await login(client, "outsider@example.com")
    res = await client.get(f"/api/channels/{room['channel']['id']}/messages")
    assert res.status_code == 403 and res.json()["error"]["code"] == "not_member"
    assert (await client.get("/api/channels/999999/messages")).status_code == 404
