"""Moderation: timeouts, kicks, bans, slow mode, moderator deletes, with events and audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from db.guilds.tables import AuditLog, GuildMember
from server.domains.chat import actions as chat
from server.domains.guilds import actions
from server.domains.guilds.events import ChannelUpdated, MemberRemoved, MemberTimedOut
from server.errors import AppError, Forbidden
from tests.factories import as_user, make_room


async def test_timeout_blocks_sending_and_reacting_but_not_reading(captured_events):
    room = await make_room()
    mod, member = as_user(room["mod"]), as_user(room["members"][0])
    cid, slug = room["channel"]["id"], room["guild"]["slug"]
    msg = (await chat.check_send_message(as_user(room["members"][1]), cid, "hi", "x")).message
    result = await actions.check_timeout(mod, slug, member.id, 600, "cool down")
    assert result.until is not None
    assert timedelta(seconds=590) < result.until - datetime.now(UTC) <= timedelta(seconds=600)
    events = [e for e in captured_events if e["event"] == "member_timed_out"]
    assert {e["room"] for e in events} == {f"guild:{room['guild']['id']}", f"user:{member.id}"}
    decoded = msgspec.convert(events[0]["payload"], MemberTimedOut)
    assert decoded.user_id == member.id and decoded.reason == "cool down" and decoded.until
    with pytest.raises(Forbidden) as err:
        await chat.check_send_message(member, cid, "can I?", "t1")
    assert err.value.code == "timed_out" and err.value.details["until"]
    with pytest.raises(Forbidden):
        await chat.check_react(member, msg.id, "👍")
    from server.domains.chat.queries import history

    page = await history("channel", cid, 1, None, None, 50)
    assert [m.id for m in page.messages] == [msg.id]
    lifted = await actions.check_timeout(mod, slug, member.id, 0, "")
    assert lifted.until is None and lifted.action == "timeout_lifted"
    assert (await chat.check_send_message(member, cid, "back", "t2")).message.seq == 2


async def test_timeout_is_at_most_28_days(client, login):
    room = await make_room()
    from db.auth.tables import User

    await User.update({User.email: "mod@example.com"}).where(User.id == room["mod"]["id"])
    await login(client, "mod@example.com")
    target = room["members"][0]["id"]
    url = f"/api/guilds/{room['guild']['slug']}/members/{target}/timeout"
    assert (await client.post(url, json={"seconds": 28 * 86400 + 1})).status_code == 400
    assert (await client.post(url, json={"seconds": -1})).status_code == 400
    assert (
        await client.post(url, json={"seconds": 28 * 86400, "reason": "spam"})
    ).status_code == 200


async def test_members_cannot_moderate_and_moderators_cannot_touch_owners_or_peers():
    room = await make_room()
    slug = room["guild"]["slug"]
    member, mod, owner = as_user(room["members"][0]), as_user(room["mod"]), as_user(room["owner"])
    with pytest.raises(Forbidden) as err:
        await actions.check_timeout(member, slug, room["members"][1]["id"], 60, "")
    assert err.value.code == "moderator_required"
    with pytest.raises(Forbidden) as err:
        await actions.check_kick(mod, slug, owner.id, "")
    assert err.value.code == "target_protected"
    with pytest.raises(AppError) as err:
        await actions.check_ban(mod, slug, mod.id, "")
    assert err.value.code == "cannot_target_self"
    # The owner can time a moderator out.
    assert (await actions.check_timeout(owner, slug, mod.id, 60, "")).until is not None


async def test_kick_removes_membership_and_rejoining_is_possible(captured_events):
    room = await make_room()
    mod, member = as_user(room["mod"]), as_user(room["members"][0])
    gid, slug = room["guild"]["id"], room["guild"]["slug"]
    await actions.check_kick(mod, slug, member.id, "off topic")
    assert not await GuildMember.exists().where(
        (GuildMember.guild == gid) & (GuildMember.user == member.id)
    )
    removed = [
        msgspec.convert(e["payload"], MemberRemoved)
        for e in captured_events
        if e["event"] == "member_removed"
    ]
    assert removed[0].action == "kick" and removed[0].reason == "off topic"
    with pytest.raises(Forbidden):
        await chat.check_send_message(member, room["channel"]["id"], "hi", "k1")
    await actions.check_join(member, slug)
    assert await GuildMember.exists().where(
        (GuildMember.guild == gid) & (GuildMember.user == member.id)
    )


async def test_ban_keeps_the_user_out_until_unbanned():
    room = await make_room()
    mod, member = as_user(room["mod"]), as_user(room["members"][0])
    slug = room["guild"]["slug"]
    await actions.check_ban(mod, slug, member.id, "spam")
    with pytest.raises(Forbidden) as err:
        await actions.check_join(member, slug)
    assert err.value.code == "banned"
    await actions.check_unban(mod, slug, member.id, "")
    await actions.check_join(member, slug)
    with pytest.raises(AppError) as err:
        await actions.check_unban(mod, slug, member.id, "")
    assert err.value.status_code == 404


async def test_every_moderation_action_is_in_the_audit_log(client, login):
    room = await make_room(n_members=3)
    from db.auth.tables import User

    await User.update({User.email: "auditor@example.com"}).where(User.id == room["mod"]["id"])
    mod = as_user({**room["mod"], "email": "auditor@example.com"})
    slug, cid = room["guild"]["slug"], room["channel"]["id"]
    a, b, c = (as_user(u) for u in room["members"])
    msg = (await chat.check_send_message(a, cid, "bad words", "bw")).message
    await chat.check_delete_message(mod, msg.id)
    await actions.check_timeout(mod, slug, a.id, 60, "t")
    await actions.check_kick(mod, slug, b.id, "k")
    await actions.check_ban(mod, slug, c.id, "b")
    await actions.check_unban(mod, slug, c.id, "u")
    await actions.check_slow_mode(mod, cid, 10)
    await login(client, "auditor@example.com")
    res = await client.get(f"/api/guilds/{slug}/audit-log")
    assert res.status_code == 200
    entries = res.json()
    assert [e["action"] for e in entries] == [
        "slow_mode",
        "unban",
        "ban",
        "kick",
        "timeout",
        "delete_message",
    ]
    assert entries[3]["target"]["id"] == b.id and entries[3]["reason"] == "k"
    assert entries[3]["actor"]["id"] == mod.id and entries[0]["details"] == {
        "channel_id": cid,
        "seconds": 10,
    }
    assert await AuditLog.count() == 6
    page = await client.get(f"/api/guilds/{slug}/audit-log?limit=2&before_id={entries[1]['id']}")
    assert [e["action"] for e in page.json()] == ["ban", "kick"]


async def test_audit_log_is_for_moderators_only(client, login):
    room = await make_room()
    from db.auth.tables import User

    await User.update({User.email: "m0@example.com"}).where(User.id == room["members"][0]["id"])
    await login(client, "m0@example.com")
    res = await client.get(f"/api/guilds/{room['guild']['slug']}/audit-log")
    assert res.status_code == 403 and res.json()["error"]["code"] == "moderator_required"


async def test_slow_mode_bounds_and_event(captured_events):
    room = await make_room()
    mod, cid = as_user(room["mod"]), room["channel"]["id"]
    read = await actions.check_slow_mode(mod, cid, 21_600)
    assert read.slow_mode_s == 21_600
    (event,) = [e for e in captured_events if e["event"] == "channel_updated"]
    assert msgspec.convert(event["payload"], ChannelUpdated).channel.slow_mode_s == 21_600
    with pytest.raises(Forbidden):
        await actions.check_slow_mode(as_user(room["members"][0]), cid, 5)


async def test_slow_mode_limit_is_validated_over_http(client, login):
    room = await make_room()
    from db.auth.tables import User

    await User.update({User.email: "slow@example.com"}).where(User.id == room["mod"]["id"])
    await login(client, "slow@example.com")
    url = f"/api/channels/{room['channel']['id']}"
    assert (await client.patch(url, json={"slow_mode_s": 21_601})).status_code == 400
    assert (await client.patch(url, json={"slow_mode_s": 5})).json()["slow_mode_s"] == 5


async def test_ids_past_the_database_range_are_a_400_not_a_500(client, login):
    room = await make_room()
    await login(client, "range@example.com")
    slug = room["guild"]["slug"]
    for url in (
        f"/api/guilds/{slug}/audit-log?before_id=99999999999",
        "/api/channels/99999999999/messages",
        f"/api/guilds/{slug}/members/99999999999/kick",
    ):
        res = await (client.get(url) if "kick" not in url else client.post(url, json={}))
        assert 400 <= res.status_code < 500, (url, res.text)


async def test_leave_and_ban_push_member_removed(captured_events):
    room = await make_room(n_members=2)
    slug, gid = room["guild"]["slug"], room["guild"]["id"]
    leaver, banned = (as_user(u) for u in room["members"])
    await actions.check_leave(leaver, slug)
    await actions.check_ban(as_user(room["mod"]), slug, banned.id, "rude")
    removed = [
        (e["room"], msgspec.convert(e["payload"], MemberRemoved))
        for e in captured_events
        if e["event"] == "member_removed"
    ]
    assert [(r, e.user_id, e.action, e.reason) for r, e in removed] == [
        (f"guild:{gid}", leaver.id, "leave", ""),
        (f"user:{leaver.id}", leaver.id, "leave", ""),
        (f"guild:{gid}", banned.id, "ban", "rude"),
        (f"user:{banned.id}", banned.id, "ban", "rude"),
    ]
    with pytest.raises(AppError) as err:
        await actions.check_leave(as_user(room["owner"]), slug)
    assert err.value.code == "owner_cannot_leave"


async def test_removals_take_the_member_out_of_the_guild_rooms_after_commit(monkeypatch):
    from realtime import revoke
    from tests.factories import make_channel

    left: list[tuple[int, list[str]]] = []
    monkeypatch.setattr(revoke, "_operator", lambda r: left.append((r.user_id, list(r.rooms))))
    room = await make_room(n_members=3)
    slug, gid, cid = room["guild"]["slug"], room["guild"]["id"], room["channel"]["id"]
    other = (await make_channel(gid, name="second"))["id"]
    mod = as_user(room["mod"])
    kicked, banned, leaver = (as_user(u) for u in room["members"])
    with pytest.raises(Forbidden):  # refused: nothing committed, nobody evicted
        await actions.check_kick(mod, slug, room["owner"]["id"], "")
    assert left == []
    assert (await actions.check_kick(mod, slug, kicked.id, "")).action == "kick"
    assert (await actions.check_ban(mod, slug, banned.id, "")).action == "ban"
    assert (await actions.check_leave(leaver, slug)).action == "leave"
    rooms = {f"guild:{gid}", f"channel:{cid}", f"channel:{other}"}
    assert [(u, set(r)) for u, r in left] == [
        (kicked.id, rooms),
        (banned.id, rooms),
        (leaver.id, rooms),
    ]


def test_notify_builders_only_build():
    from realtime.emitter import Outgoing
    from server.domains.guilds import events

    # Outside a unit of work queueing would raise: building must not queue anything.
    built = events.notify_removed(7, 9, "kick", "spam")
    assert [(o.room, o.event) for o in built] == [
        ("guild:7", "member_removed"),
        ("user:9", "member_removed"),
    ]
    assert all(isinstance(o, Outgoing) for o in built)
    assert msgspec.convert(msgspec.to_builtins(built[0].payload), MemberRemoved) == MemberRemoved(
        guild_id=7, user_id=9, action="kick", reason="spam"
    )
