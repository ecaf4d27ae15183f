"""Edit, delete and reaction pushes of one message are coalesced per room, end state kept."""

from __future__ import annotations

import asyncio
import math
import time

import msgspec

from server.domains.chat import actions
from server.domains.chat.events import MessageDeleted, MessageEdited, ReactionUpdated
from tests.factories import as_user, make_room


async def test_a_burst_of_edits_and_reactions_is_a_few_pushes_ending_in_the_stored_state(
    captured_events, monkeypatch
):
    from realtime import emitter

    window = emitter.COALESCE_S
    room = await make_room()
    author, other = (as_user(u) for u in room["members"])
    cid = room["channel"]["id"]
    msg = (await actions.check_send_message(author, cid, "v0", "burst-0")).message
    captured_events.clear()
    emojis = ["👍", "🎉", "❤️", "🔥", "👀"]
    # One after another (each commits, then offers its push), as one socket's events arrive.
    started = time.monotonic()
    for i in range(100):
        await actions.check_edit_message(author, msg.id, f"v{i + 1}")
    editing_s, started = time.monotonic() - started, time.monotonic()
    for i in range(100):
        await actions.check_react(other, msg.id, emojis[i % 5])
    reacting_s = time.monotonic() - started
    await asyncio.sleep(2 * window + 0.5)  # past the trailing edges
    edits = [e for e in captured_events if e["event"] == "message_edited"]
    reactions = [e for e in captured_events if e["event"] == "reaction_updated"]
    print(
        f"\n100 edits in {editing_s:.1f} s -> {len(edits)} pushes, "
        f"100 reactions in {reacting_s:.1f} s -> {len(reactions)} pushes"
    )
    assert all(e["room"] == f"channel:{cid}" for e in edits + reactions)
    # At most one push per window after the first, plus the last trailing edge.
    assert 1 <= len(edits) <= math.ceil(editing_s / window) + 2
    assert 1 <= len(reactions) <= math.ceil(reacting_s / window) + 2
    last_edit = msgspec.convert(edits[-1]["payload"], MessageEdited).message
    assert last_edit.content == "v100"
    stored = await actions.queries.get_message(msg.id)
    assert stored is not None
    last_reactions = msgspec.convert(reactions[-1]["payload"], ReactionUpdated).reactions
    assert last_reactions == stored.reactions


async def test_a_delete_is_never_followed_by_an_older_edit(captured_events, monkeypatch):
    from realtime import emitter

    monkeypatch.setattr(emitter, "COALESCE_S", 0.3)
    room = await make_room()
    author = as_user(room["members"][0])
    msg = (
        await actions.check_send_message(author, room["channel"]["id"], "draft", "del-0")
    ).message
    captured_events.clear()
    await actions.check_edit_message(author, msg.id, "first edit")  # pushed at once
    await actions.check_edit_message(author, msg.id, "second edit")  # held for the window
    await actions.check_delete_message(author, msg.id)
    await asyncio.sleep(1.0)
    kinds = [e["event"] for e in captured_events]
    assert kinds == ["message_edited", "message_deleted"], kinds
    assert msgspec.convert(captured_events[-1]["payload"], MessageDeleted).message.deleted
