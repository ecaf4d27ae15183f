"""Edits, deletes (tombstones), reactions (toggle, 20 cap) and DMs with blocks, with events."""

from __future__ import annotations

import msgspec
import pytest

from server.domains.chat import actions
from server.domains.chat.events import MessageDeleted, MessageEdited, NewDm, ReactionUpdated
from server.errors import AppError, Forbidden
from tests.factories import as_user, make_room, make_user


async def test_author_edits_and_everyone_sees_it_edited(captured_events):
    room = await make_room()
    author, other = (as_user(u) for u in room["members"])
    msg = (await actions.check_send_message(author, room["channel"]["id"], "helo", "e1")).message
    edited = await actions.check_edit_message(author, msg.id, "hello **all**")
    assert edited.edited_at is not None and "<strong>all</strong>" in edited.html
    assert edited.seq == msg.seq
    event = [e for e in captured_events if e["event"] == "message_edited"][0]
    assert msgspec.convert(event["payload"], MessageEdited).message.content == "hello **all**"
    with pytest.raises(Forbidden):
        await actions.check_edit_message(other, msg.id, "hijack")
    with pytest.raises(Forbidden):
        await actions.check_edit_message(as_user(room["mod"]), msg.id, "mods cannot edit")


async def test_delete_leaves_a_tombstone(captured_events):
    room = await make_room()
    author, other = (as_user(u) for u in room["members"])
    cid = room["channel"]["id"]
    mine = (await actions.check_send_message(author, cid, "oops", "d1")).message
    theirs = (await actions.check_send_message(other, cid, "spam", "d2")).message
    with pytest.raises(Forbidden):
        await actions.check_delete_message(author, theirs.id)
    gone = await actions.check_delete_message(author, mine.id)
    assert gone.deleted and gone.content == "" and gone.html == "" and gone.seq == mine.seq
    by_mod = await actions.check_delete_message(as_user(room["mod"]), theirs.id)
    assert by_mod.deleted
    events = [
        msgspec.convert(e["payload"], MessageDeleted)
        for e in captured_events
        if e["event"] == "message_deleted"
    ]
    assert [e.message.id for e in events] == [mine.id, theirs.id]
    with pytest.raises(AppError):
        await actions.check_edit_message(author, mine.id, "resurrect")
    from server.domains.chat.queries import history

    page = await history("channel", cid, 2, None, None, 50)
    assert [(m.seq, m.deleted) for m in page.messages] == [(1, True), (2, True)]


async def test_reactions_toggle_and_are_capped_at_20_distinct(captured_events):
    room = await make_room()
    a, b = (as_user(u) for u in room["members"])
    msg = (await actions.check_send_message(a, room["channel"]["id"], "react!", "r1")).message
    added = await actions.check_react(a, msg.id, "👍")
    both = await actions.check_react(b, msg.id, "👍")
    assert added.added and both.reactions[0].count == 2
    assert both.reactions[0].user_ids == [a.id, b.id]
    removed = await actions.check_react(a, msg.id, "👍")
    assert not removed.added and removed.reactions[0].user_ids == [b.id]
    event = [e for e in captured_events if e["event"] == "reaction_updated"][-1]
    decoded = msgspec.convert(event["payload"], ReactionUpdated)
    assert decoded.message_id == msg.id and decoded.reactions[0].count == 1
    for i in range(19):
        await actions.check_react(a, msg.id, f"e{i}")
    with pytest.raises(AppError) as err:
        await actions.check_react(a, msg.id, "one-too-many")
    assert err.value.code == "too_many_reactions"
    # An emoji already present can still be added by someone else.
    assert (await actions.check_react(a, msg.id, "👍")).added


async def test_dm_one_conversation_per_pair_and_private(captured_events):
    alice, bob, eve = [as_user(await make_user(display_name=n)) for n in ("alice", "bob", "eve")]
    first = await actions.check_send_dm(alice, bob.id, "hi bob", "dm1")
    reply = await actions.check_send_dm(bob, alice.id, "hi alice", "dm2")
    assert first.message.conversation_id == reply.message.conversation_id
    assert (first.message.seq, reply.message.seq) == (1, 2)
    rooms = {e["room"] for e in captured_events if e["event"] == "new_dm"}
    assert rooms == {f"user:{alice.id}", f"user:{bob.id}"}
    decoded = msgspec.convert(captured_events[0]["payload"], NewDm)
    assert decoded.message.content == "hi bob"
    with pytest.raises(AppError) as err:
        await actions.access_message(eve, first.message.id)
    assert err.value.status_code == 404
    from server.domains.chat.queries import list_conversations

    (conv,) = await list_conversations(alice)
    assert conv.other.id == bob.id and conv.unread == 1 and conv.last_seq == 2


async def test_blocked_dms_are_refused_both_ways():
    alice, bob = as_user(await make_user()), as_user(await make_user())
    await actions.check_send_dm(alice, bob.id, "hello", "b1")
    await actions.check_block(bob, alice.id, True)
    for sender, to in ((alice, bob), (bob, alice)):
        with pytest.raises(Forbidden) as err:
            await actions.check_send_dm(sender, to.id, "still there?", f"b-{sender.id}")
        assert err.value.code == "blocked"
    await actions.check_block(bob, alice.id, False)
    assert (await actions.check_send_dm(alice, bob.id, "again", "b3")).message.seq == 2


async def test_dm_refuses_self_and_other_platform_users():
    alice = as_user(await make_user())
    stam = await make_user(platform="stam")
    with pytest.raises(AppError) as err:
        await actions.check_send_dm(alice, alice.id, "me", "s1")
    assert err.value.code == "cannot_dm_self"
    with pytest.raises(AppError) as err:
        await actions.check_send_dm(alice, stam["id"], "hi", "s2")
    assert err.value.status_code == 404


async def test_dm_history_over_http(client, login):
    me = (await login(client, "dmreader@example.com"))["user"]
    other = await make_user(display_name="pal")
    await actions.check_send_dm(as_user(other), me["id"], "yo", "h1")
    res = await client.get(f"/api/dms/{other['id']}/messages")
    assert [m["content"] for m in res.json()["messages"]] == ["yo"]
    convs = (await client.get("/api/dms")).json()
    assert convs[0]["other"]["display_name"] == "pal" and convs[0]["unread"] == 1
    stranger = await make_user()
    assert (await client.get(f"/api/dms/{stranger['id']}/messages")).status_code == 404
    assert (await client.post(f"/api/users/{other['id']}/block")).json()["blocked"] is True
    assert (await client.get("/api/dms")).json()[0]["blocked"] is True
