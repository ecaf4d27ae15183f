"""A mention reaches only members who can read the channel (it carries the whole message)."""

from __future__ import annotations

from db.chat.tables import Message
from server.domains.chat import actions
from tests.factories import as_user, make_member, make_room, make_user


async def test_a_mention_in_a_paid_channel_skips_members_without_paid_access(captured_events):
    room = await make_room(n_members=0, requires_paid=True)
    gid, cid = room["guild"]["id"], room["channel"]["id"]
    author = await make_user(display_name="payer")
    unpaid = await make_user(display_name="freeloader")
    paid = await make_user(display_name="supporter")
    await make_member(gid, author["id"], paid_access=True)
    await make_member(gid, unpaid["id"])
    await make_member(gid, paid["id"], paid_access=True)
    text = "hi @freeloader @supporter @mod"
    sent = await actions.check_send_message(as_user(author), cid, text, "m1")
    # The moderator reads paid channels without paying; the unpaid member does not read it.
    readers = sorted([paid["id"], room["mod"]["id"]])
    assert sent.message.mentions == readers
    rooms = sorted(e["room"] for e in captured_events if e["event"] == "mention")
    assert rooms == [f"user:{u}" for u in readers]
    edited = await actions.check_edit_message(as_user(author), sent.message.id, text + " again")
    assert edited.mentions == readers
    stored = await Message.select(Message.mentions).where(Message.id == sent.message.id).first()
    assert stored is not None and sorted(stored["mentions"]) == readers
