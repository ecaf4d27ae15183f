"""Sending: gap-free seq under concurrency, idempotent client_msg_id, limits, sanitization."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from db.chat.tables import Message
from server.domains.chat import actions
from server.domains.chat.events import ChannelActivity, Mention, NewMessage
from server.errors import AppError, Forbidden
from tests.factories import as_user, make_room, make_user

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "span",
}


def parse_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


async def test_concurrent_sends_get_gap_free_increasing_seqs(captured_events, monkeypatch):
    from realtime import emitter

    monkeypatch.setattr(emitter, "COALESCE_S", 0.2)
    room = await make_room(n_members=4)
    cid = room["channel"]["id"]
    senders = [as_user(u) for u in room["members"]]

    async def send(user, i):
        return await actions.check_send_message(user, cid, f"hello {i}", f"{user.id}-{i}")

    results = await asyncio.gather(*(send(u, i) for u in senders for i in range(4)))
    seqs = sorted(r.message.seq for r in results)
    assert seqs == list(range(1, 17))
    stored = [
        r["seq"]
        for r in await Message.select(Message.seq)
        .where(Message.channel == cid)
        .order_by(Message.seq)
    ]
    assert stored == list(range(1, 17))
    pushed = [
        msgspec.convert(e["payload"], NewMessage)
        for e in captured_events
        if e["event"] == "new_message"
    ]
    assert sorted(p.message.seq for p in pushed) == seqs
    assert all(
        e["room"] == f"channel:{cid}" for e in captured_events if e["event"] == "new_message"
    )
    await asyncio.sleep(0.5)  # the trailing edge of the coalesced unread summary
    activity = [
        msgspec.convert(e["payload"], ChannelActivity)
        for e in captured_events
        if e["event"] == "channel_activity"
    ]
    assert 1 <= len(activity) < 16 and max(a.last_seq for a in activity) == 16
    assert all(
        e["room"] == f"guild:{room['guild']['id']}"
        for e in captured_events
        if e["event"] == "channel_activity"
    )


async def test_resend_with_same_client_msg_id_returns_the_original(captured_events):
    room = await make_room()
    user, cid = as_user(room["members"][0]), room["channel"]["id"]
    first = await actions.check_send_message(user, cid, "once", "abc")
    again = await actions.check_send_message(user, cid, "once", "abc")
    assert not first.duplicate and again.duplicate
    assert again.message.id == first.message.id and again.message.seq == first.message.seq == 1
    assert len([e for e in captured_events if e["event"] == "new_message"]) == 1
    nxt = await actions.check_send_message(user, cid, "next", "abd")
    assert nxt.message.seq == 2


async def test_concurrent_duplicates_store_one_message_and_leave_no_gap():
    room = await make_room()
    user, cid = as_user(room["members"][0]), room["channel"]["id"]
    results = await asyncio.gather(
        *(actions.check_send_message(user, cid, "race", "same-id") for _ in range(4))
    )
    assert len({r.message.id for r in results}) == 1
    assert await Message.count().where(Message.channel == cid) == 1
    later = await actions.check_send_message(as_user(room["members"][1]), cid, "after", "x1")
    assert later.message.seq == 2


async def test_client_msg_id_reused_for_another_channel_is_a_conflict():
    room = await make_room()
    other = await make_room()
    user = as_user(room["members"][0])
    from tests.factories import make_member

    await make_member(other["guild"]["id"], user.id)
    await actions.check_send_message(user, room["channel"]["id"], "a", "dup")
    with pytest.raises(AppError) as err:
        await actions.check_send_message(user, other["channel"]["id"], "b", "dup")
    assert err.value.code == "duplicate_id"


@pytest.mark.parametrize(
    ("content", "code"), [("   ", "validation_error"), ("x" * 4001, "too_long")]
)
async def test_empty_and_too_long_messages_are_refused(content, code):
    room = await make_room()
    with pytest.raises(AppError) as err:
        await actions.check_send_message(
            as_user(room["members"][0]), room["channel"]["id"], content, "c1"
        )
    assert err.value.code == code and err.value.status_code == 400


async def test_exactly_4000_characters_is_accepted():
    room = await make_room()
    res = await actions.check_send_message(
        as_user(room["members"][0]), room["channel"]["id"], "y" * 4000, "c1"
    )
    assert len(res.message.content) == 4000


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        '<a href="javascript:alert(1)" onclick="x()">y</a>',
        "<iframe src=//evil></iframe>",
        "[x](JaVaScRiPt:alert(1))",
        '<svg onload="alert(1)">',
    ],
)
async def test_markdown_is_rendered_safely(payload):
    room = await make_room()
    res = await actions.check_send_message(
        as_user(room["members"][0]), room["channel"]["id"], payload, "c1"
    )
    tags = parse_tags(res.message.html)
    assert {t for t, _ in tags} <= ALLOWED_TAGS
    for _, attrs in tags:
        assert not any(name.startswith("on") for name, _ in attrs)
        assert not any(
            name == "href" and (value or "").strip().lower().startswith("javascript")
            for name, value in attrs
        )
    assert "<script" not in res.message.html.lower()


async def test_markdown_keeps_formatting_and_safe_links():
    room = await make_room()
    res = await actions.check_send_message(
        as_user(room["members"][0]),
        room["channel"]["id"],
        "**bold** _it_ `code` [site](https://example.com)",
        "c1",
    )
    assert "<strong>bold</strong>" in res.message.html and "<code>code</code>" in res.message.html
    assert 'href="https://example.com"' in res.message.html
    assert 'rel="noopener noreferrer nofollow"' in res.message.html


async def test_sixth_message_in_five_seconds_is_rate_limited():
    room = await make_room()
    user, cid = as_user(room["members"][0]), room["channel"]["id"]
    for i in range(5):
        await actions.check_send_message(user, cid, f"m{i}", f"id{i}")
    with pytest.raises(AppError) as err:
        await actions.check_send_message(user, cid, "m5", "id5")
    assert err.value.status_code == 429 and err.value.details["retry_after"] >= 1
    # The refused send consumed no seq: the next accepted message is 6.
    other = await actions.check_send_message(as_user(room["members"][1]), cid, "ok", "o1")
    assert other.message.seq == 6


async def test_mentions_notify_the_mentioned_member(captured_events):
    room = await make_room(n_members=2)
    author, target = room["members"]
    res = await actions.check_send_message(
        as_user(author), room["channel"]["id"], f"hey @{target['display_name']} and @nobody", "m1"
    )
    assert res.message.mentions == [target["id"]]
    (event,) = [e for e in captured_events if e["event"] == "mention"]
    assert event["room"] == f"user:{target['id']}"
    decoded = msgspec.convert(event["payload"], Mention)
    assert decoded.message.id == res.message.id and decoded.channel_id == room["channel"]["id"]


async def test_announcement_channels_take_moderators_only():
    room = await make_room(kind="announcement")
    cid = room["channel"]["id"]
    with pytest.raises(Forbidden) as err:
        await actions.check_send_message(as_user(room["members"][0]), cid, "hi", "a1")
    assert err.value.code == "announcement_only"
    ok = await actions.check_send_message(as_user(room["mod"]), cid, "news", "a2")
    assert ok.message.seq == 1


async def test_slow_mode_spaces_a_members_messages_but_not_a_moderators():
    room = await make_room(slow_mode_s=30)
    cid, member = room["channel"]["id"], as_user(room["members"][0])
    await actions.check_send_message(member, cid, "one", "s1")
    with pytest.raises(AppError) as err:
        await actions.check_send_message(member, cid, "two", "s2")
    assert err.value.code == "slow_mode" and 1 <= err.value.details["retry_after"] <= 30
    mod = as_user(room["mod"])
    await actions.check_send_message(mod, cid, "m1", "s3")
    await actions.check_send_message(mod, cid, "m2", "s4")


async def test_non_members_cannot_send_or_read():
    room = await make_room()
    stranger = as_user(await make_user())
    with pytest.raises(Forbidden) as err:
        await actions.check_send_message(stranger, room["channel"]["id"], "hi", "n1")
    assert err.value.code == "not_member"


async def test_channels_of_the_other_platform_do_not_exist_for_you():
    room = await make_room(platform="stam")
    intruder = as_user(await make_user(platform="weokto"))
    with pytest.raises(AppError) as err:
        await actions.check_send_message(intruder, room["channel"]["id"], "hi", "p1")
    assert err.value.status_code == 404


def test_notify_new_builds_the_events_without_queueing_them():
    from datetime import UTC, datetime

    from server.domains.chat import events
    from server.domains.chat.schemas import Author, MessageRead

    message = MessageRead(
        id=1,
        channel_id=3,
        conversation_id=None,
        seq=4,
        author=Author(id=5, display_name="a"),
        content="hi @b",
        html="<p>hi @b</p>",
        client_msg_id="c",
        mentions=[6],
        reactions=[],
        created_at=datetime.now(UTC),
        edited_at=None,
        deleted=False,
    )
    # Outside a unit of work: queueing would raise, building does not.
    built = events.notify_new(events.Stream(channel_id=3, guild_id=2), message, [6])
    assert [(o.room, o.event) for o in built] == [
        ("channel:3", "new_message"),
        ("guild:2", "channel_activity"),
        ("user:6", "mention"),
    ]
    assert built[1].coalesce == "activity:3" and built[1].rank == 4
    activity = msgspec.convert(msgspec.to_builtins(built[1].payload), ChannelActivity)
    assert (activity.last_seq, activity.author_id) == (4, 5)
