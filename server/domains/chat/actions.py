"""Chat state changes: send (gap-free seq, idempotent), edit, delete, react, read, block.

A message's seq comes from `UPDATE <stream> SET last_seq = last_seq + 1` in the same
transaction as its INSERT: the row lock orders concurrent senders and a rollback returns the
number, so every stream is numbered 1, 2, 3 ... with no gap. Events leave after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import msgspec

from core.redis import get_redis
from db.chat.tables import DmConversation, Message, Reaction, UserBlock
from db.guilds.tables import AuditLog, GuildMember
from db.uow import after_write, atomic
from realtime import emitter, revoke
from realtime.rooms import channel_room, guild_room
from server.domains.auth.queries import get_user
from server.domains.auth.schemas import CurrentUser
from server.domains.chat import events, queries
from server.domains.chat.events import Stream
from server.domains.chat.render import mention_names, render
from server.domains.chat.schemas import (
    HISTORY_DEFAULT,
    MAX_CONTENT,
    MAX_REACTIONS,
    Author,
    BlockResult,
    JoinedChannel,
    JoinedDm,
    MessageRead,
    ReactResult,
    ReadResult,
    SendResult,
)
from server.domains.guilds.queries import ChannelAccess, access_channel, can_read, channel_read
from server.errors import ClientError, Conflict, Forbidden, NotFound, RateLimited
from server.ratelimit import DM_NEW, Limit, hit

SEND_LIMIT = Limit("chat-send", max_hits=5, window_s=5)
TYPING_THROTTLE_MS = 3000


class Draft(msgspec.Struct, frozen=True):
    content: str
    html: str


def _now() -> datetime:
    return datetime.now(UTC)


def prepare(content: str) -> Draft:
    text = content.strip()
    if not text:
        raise ClientError(
            "A message cannot be empty", code="validation_error", details={"field": "content"}
        )
    if len(text) > MAX_CONTENT:
        raise ClientError(
            f"A message has at most {MAX_CONTENT} characters",
            code="too_long",
            details={"max": MAX_CONTENT, "length": len(text)},
        )
    return Draft(content=text, html=render(text))


def check_can_send(ch: ChannelAccess) -> None:
    if ch.access.timed_out():
        until = ch.access.timeout_until
        raise Forbidden(
            f"You are timed out until {until:%Y-%m-%d %H:%M} UTC",
            code="timed_out",
            details={"until": until.isoformat() if until else None},
        )
    if ch.channel.kind == "announcement" and not ch.access.is_moderator:
        raise Forbidden("Only moderators post in announcement channels", code="announcement_only")


async def _existing(user: CurrentUser, client_msg_id: str, stream: Stream) -> SendResult | None:
    found = await queries.messages_where(
        "m.author = {} AND m.client_msg_id = {}", user.id, client_msg_id
    )
    if not found:
        return None
    msg = found[0]
    if (msg.channel_id, msg.conversation_id) != (stream.channel_id, stream.conversation_id):
        raise Conflict("This client_msg_id was used for another message", code="duplicate_id")
    return SendResult(message=msg, duplicate=True)


async def _slow_mode(ch: ChannelAccess, user_id: int) -> None:
    seconds = ch.channel.slow_mode_s
    if seconds <= 0 or ch.access.is_moderator:
        return
    key = f"slow:{ch.channel.id}:{user_id}"
    if not await get_redis().set(key, "1", nx=True, ex=seconds):
        ttl = await get_redis().ttl(key)
        raise ClientError(
            f"Slow mode: wait {max(ttl, 1)} s between messages",
            code="slow_mode",
            details={"retry_after": max(ttl, 1), "slow_mode_s": seconds},
        )


async def _limit(user_id: int, stream_key: str) -> None:
    try:
        await hit(SEND_LIMIT, f"{user_id}:{stream_key}", "You are sending too fast, slow down")
    except RateLimited as exc:
        exc.message = f"You are sending too fast: wait {exc.details['retry_after']} s"
        raise


async def check_send_message(
    user: CurrentUser, channel_id: int, content: str, client_msg_id: str
) -> SendResult:
    ch = await access_channel(user, channel_id)
    stream = Stream(channel_id=channel_id, guild_id=ch.access.guild_id)
    if (dup := await _existing(user, client_msg_id, stream)) is not None:
        return dup  # a resend after a lost ack: the original, never a copy
    check_can_send(ch)
    draft = prepare(content)
    await _limit(user.id, f"c{channel_id}")
    await _slow_mode(ch, user.id)
    mentioned = await _mentioned_members(ch, draft.content, user.id)
    return await do_send(user, stream, draft, client_msg_id, mentioned)


async def _mentioned_members(ch: ChannelAccess, content: str, author_id: int) -> list[int]:
    """Members named in the message who can read its channel: a mention carries the whole
    message, so a member locked out of a paid channel must not get one from it."""
    names = mention_names(content)
    if not names:
        return []
    rows = await GuildMember.raw(
        'SELECT u.id, m.role, m.paid_access FROM guild_members m JOIN users u ON u.id = m."user" '
        "WHERE m.guild = {} AND lower(u.display_name) = ANY({}::text[]) AND u.id <> {}",
        ch.access.guild_id,
        sorted(names),
        author_id,
    )
    readers = [
        r["id"]
        for r in rows
        if can_read(
            ch.channel,
            msgspec.structs.replace(ch.access, role=r["role"], paid_access=r["paid_access"]),
        )
    ]
    return sorted(readers)[:50]


# One statement: number the message, store it and move the sender's read marker. It runs
# outside an explicit transaction (autocommit), so the stream row's lock, which serializes the
# numbering, is held only while PostgreSQL executes and commits it: in a transaction block it
# would also be held across the event loop's turns between the statements and the COMMIT,
# which on a busy server (a large room's fan-out) capped a channel at a few dozen messages/s.
_SEND = (
    "WITH s AS (UPDATE {table} SET last_seq = last_seq + 1 WHERE id = {{}} RETURNING last_seq), "
    "m AS (INSERT INTO messages ({column}, seq, author, client_msg_id, content, html, mentions, "
    "created_at) SELECT {{}}, s.last_seq, {{}}, {{}}, {{}}, {{}}, {{}}, now() FROM s "
    "RETURNING id, seq, created_at), "
    'r AS (INSERT INTO read_markers ("user", {column}, last_read_seq) '
    'SELECT {{}}::bigint, {{}}::bigint, m.seq FROM m ON CONFLICT ("user", {column}) '
    "DO UPDATE SET last_read_seq = GREATEST(read_markers.last_read_seq, "
    "EXCLUDED.last_read_seq)) "
    "SELECT id, seq, created_at FROM m"
)
_MARK = (
    'INSERT INTO read_markers ("user", {column}, last_read_seq) VALUES ({{}}, {{}}, {{}}) '
    'ON CONFLICT ("user", {column}) DO UPDATE SET last_read_seq = '
    "GREATEST(read_markers.last_read_seq, EXCLUDED.last_read_seq) RETURNING last_read_seq"
)


def _target(stream: Stream) -> tuple[str, str, int]:
    if stream.channel_id is not None:
        return "channels", "channel", stream.channel_id
    assert stream.conversation_id is not None
    return "dm_conversations", "conversation", stream.conversation_id


async def do_send(
    user: CurrentUser, stream: Stream, draft: Draft, client_msg_id: str, mentioned: list[int]
) -> SendResult:
    table, column, stream_id = _target(stream)
    try:
        async with after_write():
            rows = await Message.raw(
                _SEND.format(table=table, column=column),
                stream_id,
                stream_id,
                user.id,
                client_msg_id,
                draft.content,
                draft.html,
                mentioned,
                user.id,
                stream_id,
            )
            if not rows:
                raise NotFound("This conversation no longer exists", code="not_found")
            row = rows[0]
            message = MessageRead(
                id=row["id"],
                channel_id=stream.channel_id,
                conversation_id=stream.conversation_id,
                seq=row["seq"],
                author=Author(id=user.id, display_name=user.display_name),
                content=draft.content,
                html=draft.html,
                client_msg_id=client_msg_id,
                mentions=mentioned,
                reactions=[],
                created_at=row["created_at"],
                edited_at=None,
                deleted=False,
            )
            emitter.queue_all(events.notify_new(stream, message, mentioned))
    except asyncpg.UniqueViolationError:
        # A concurrent resend won the race: answer with its message (nothing was numbered).
        dup = await _existing(user, client_msg_id, stream)
        if dup is None:
            raise
        return dup
    return SendResult(message=message, duplicate=False)


async def dm_stream(user: CurrentUser, other_id: int, create: bool) -> Stream:
    await queries.access_dm_partner(user, other_id)
    return await _dm_stream(user, other_id, create)


async def _dm_stream(user: CurrentUser, other_id: int, create: bool) -> Stream:
    low, high = sorted((user.id, other_id))
    if create and await queries.find_conversation(user.id, other_id) is None:
        # Starting conversations is limited, so no one can message every user of the platform.
        await hit(DM_NEW, str(user.id), "You are starting too many conversations, try again later")
        await DmConversation.raw(
            "INSERT INTO dm_conversations (platform, user_low, user_high, last_seq, created_at) "
            "VALUES ({}, {}, {}, 0, now()) ON CONFLICT (user_low, user_high) DO NOTHING",
            user.platform,
            low,
            high,
        )
    conv = await queries.find_conversation(user.id, other_id)
    if conv is None:
        raise NotFound("No conversation with this user yet", code="conversation_not_found")
    return Stream(conversation_id=conv.id, pair=(low, high))


async def _refuse_suspended(other_id: int) -> None:
    """A suspended account reads nothing until reinstated: messages to it are refused rather
    than piled up unseen (its sockets were disconnected by the suspension)."""
    other = await get_user(other_id)
    if other is not None and other.status == "suspended":
        raise Forbidden(
            "This account is suspended: it cannot receive messages", code="recipient_suspended"
        )


async def check_send_dm(
    user: CurrentUser, other_id: int, content: str, client_msg_id: str
) -> SendResult:
    await _refuse_suspended(other_id)
    stream = await dm_stream(user, other_id, create=True)
    if (dup := await _existing(user, client_msg_id, stream)) is not None:
        return dup
    if await queries.is_blocked_between(user.id, other_id):
        raise Forbidden("You cannot message this user", code="blocked")
    draft = prepare(content)
    await _limit(user.id, f"d{stream.conversation_id}")
    return await do_send(user, stream, draft, client_msg_id, [])


async def access_message(
    user: CurrentUser, message_id: int
) -> tuple[MessageRead, Stream, ChannelAccess | None]:
    """A message the caller can read, with its stream (and channel standing, for channels)."""
    msg = await queries.get_message(message_id)
    if msg is None:
        raise NotFound("No such message", code="message_not_found")
    if msg.channel_id is not None:
        ch = await access_channel(user, msg.channel_id)
        return msg, Stream(channel_id=msg.channel_id, guild_id=ch.access.guild_id), ch
    assert msg.conversation_id is not None  # a message is in a channel or a conversation
    conv = await queries.get_conversation(msg.conversation_id)
    if conv is None or user.id not in (conv.user_low, conv.user_high):
        raise NotFound("No such message", code="message_not_found")
    return msg, Stream(conversation_id=conv.id, pair=(conv.user_low, conv.user_high)), None


async def check_edit_message(user: CurrentUser, message_id: int, content: str) -> MessageRead:
    msg, stream, ch = await access_message(user, message_id)
    if msg.author.id != user.id:
        raise Forbidden("Only the author can edit a message", code="not_author")
    if msg.deleted:
        raise ClientError("A deleted message cannot be edited", code="message_deleted")
    if ch is not None and ch.access.timed_out():
        check_can_send(ch)
    draft = prepare(content)
    mentioned = await _mentioned_members(ch, draft.content, user.id) if ch is not None else []
    async with atomic():
        await Message.update(
            {
                Message.content: draft.content,
                Message.html: draft.html,
                Message.mentions: mentioned,
                Message.edited_at: _now(),
            }
        ).where(Message.id == message_id)
        edited = await queries.get_message(message_id)
        assert edited is not None
        emitter.queue_all(events.notify_edited(stream, edited))
    return edited


async def check_delete_message(user: CurrentUser, message_id: int) -> MessageRead:
    msg, stream, ch = await access_message(user, message_id)
    as_moderator = msg.author.id != user.id
    if as_moderator and (ch is None or not ch.access.is_moderator):
        raise Forbidden("Only the author or a moderator can delete this", code="forbidden")
    if msg.deleted:
        return msg
    async with atomic():
        await Message.update(
            {
                Message.deleted_at: _now(),
                Message.deleted_by: user.id,
                Message.content: "",
                Message.html: "",
                Message.mentions: [],
            }
        ).where(Message.id == message_id)
        await Reaction.delete().where(Reaction.message == message_id)
        if as_moderator and stream.guild_id is not None:
            await AuditLog.insert(
                AuditLog(
                    guild=stream.guild_id,
                    actor=user.id,
                    target=msg.author.id,
                    action="delete_message",
                    reason="",
                    details={
                        "message_id": message_id,
                        "channel_id": msg.channel_id,
                        "seq": msg.seq,
                    },
                )
            )
        tombstone = await queries.get_message(message_id)
        assert tombstone is not None
        emitter.queue_all(events.notify_deleted(stream, tombstone))
    return tombstone


async def check_react(user: CurrentUser, message_id: int, emoji: str) -> ReactResult:
    msg, stream, ch = await access_message(user, message_id)
    if msg.deleted:
        raise ClientError("A deleted message cannot get reactions", code="message_deleted")
    if ch is not None and ch.access.timed_out():
        check_can_send(ch)
    emoji = emoji.strip()
    if not emoji or any(c.isspace() for c in emoji):
        raise ClientError("Not an emoji", code="validation_error", details={"field": "emoji"})
    async with atomic():
        added = await _toggle_reaction(user.id, message_id, emoji, msg)
        fresh = await queries.get_message(message_id)
        assert fresh is not None
        emitter.queue_all(events.notify_reactions(stream, message_id, fresh.reactions))
    return ReactResult(message_id=message_id, reactions=fresh.reactions, added=added)


async def _toggle_reaction(user_id: int, message_id: int, emoji: str, msg: MessageRead) -> bool:
    # Serialize reactors of one message, removals included: the 20-emoji cap holds under
    # concurrency, and each toggle reads (and pushes) the list with every earlier toggle in
    # it, so the last push of a burst is the stored list.
    await Message.raw("SELECT id FROM messages WHERE id = {} FOR UPDATE", message_id)
    removed = (
        await Reaction.delete()
        .where(
            (Reaction.message == message_id)
            & (Reaction.user == user_id)
            & (Reaction.emoji == emoji)
        )
        .returning(Reaction.id)
    )
    if removed:
        return False
    distinct = await Reaction.raw(
        "SELECT count(DISTINCT emoji) AS n, bool_or(emoji = {}) AS present FROM reactions "
        "WHERE message = {}",
        emoji,
        message_id,
    )
    if not distinct[0]["present"] and (distinct[0]["n"] or 0) >= MAX_REACTIONS:
        raise ClientError(
            f"A message has at most {MAX_REACTIONS} different reactions", code="too_many_reactions"
        )
    await Reaction.raw(
        'INSERT INTO reactions (message, "user", emoji, created_at) VALUES ({}, {}, {}, now()) '
        'ON CONFLICT (message, "user", emoji) DO NOTHING',
        message_id,
        user_id,
        emoji,
    )
    return True


async def check_mark_read(
    user: CurrentUser, seq: int, channel_id: int | None, other_id: int | None
) -> ReadResult:
    stream, last_seq = await _stream_for(user, channel_id, other_id)
    _, column, stream_id = _target(stream)
    async with atomic():
        rows = await Message.raw(
            _MARK.format(column=column), user.id, stream_id, min(seq, last_seq)
        )
        last_read = rows[0]["last_read_seq"]
        unread = max(0, last_seq - last_read)
        emitter.queue_all(events.notify_unread(user.id, stream, last_read, unread))
    return ReadResult(last_read_seq=last_read, unread=unread)


async def _stream_for(
    user: CurrentUser, channel_id: int | None, other_id: int | None
) -> tuple[Stream, int]:
    if (channel_id is None) == (other_id is None):
        raise ClientError("Give channel_id or user_id", code="validation_error")
    if channel_id is not None:
        ch = await access_channel(user, channel_id)
        return Stream(channel_id=channel_id, guild_id=ch.access.guild_id), ch.channel.last_seq
    assert other_id is not None
    stream = await dm_stream(user, other_id, create=False)
    return stream, await stream_last_seq(stream)


async def check_typing(
    user: CurrentUser, channel_id: int | None, other_id: int | None, sid: str | None
) -> bool:
    """Broadcast 'typing' at most once per 3 s per user and stream; False when throttled."""
    stream, _ = await _stream_for(user, channel_id, other_id)
    if channel_id is not None:
        check_can_send(await access_channel(user, channel_id))
    key = f"typing:{channel_id or 'd'}:{stream.conversation_id or ''}:{user.id}"
    if not await get_redis().set(key, "1", nx=True, px=TYPING_THROTTLE_MS):
        return False
    await events.publish_typing(stream, Author(id=user.id, display_name=user.display_name), sid)
    return True


async def check_block(user: CurrentUser, other_id: int, blocked: bool) -> BlockResult:
    await queries.access_dm_partner(user, other_id)
    async with atomic():
        if blocked:
            await UserBlock.raw(
                "INSERT INTO user_blocks (blocker, blocked, created_at) VALUES ({}, {}, now()) "
                "ON CONFLICT (blocker, blocked) DO NOTHING",
                user.id,
                other_id,
            )
        else:
            await UserBlock.delete().where(
                (UserBlock.blocker == user.id) & (UserBlock.blocked == other_id)
            )
    return BlockResult(user_id=other_id, blocked=blocked)


async def stream_last_seq(stream: Stream) -> int:
    table, _, stream_id = _target(stream)
    rows = await Message.raw(f"SELECT last_seq FROM {table} WHERE id = {{}}", stream_id)
    return rows[0]["last_seq"] if rows else 0


async def _still_allowed(user: CurrentUser, channel_id: int, guild_id: int) -> None:
    """Read access again once the socket is in the rooms. A revocation that committed between
    the first check and the enter took the user's sockets out before this one was in: seen
    now, the rooms are left again (realtime.revoke) and the join refused."""
    try:
        await access_channel(user, channel_id)
    except Forbidden as exc:
        lost = [channel_room(channel_id)]
        if exc.code == "not_member":
            lost.append(guild_room(guild_id))
        await revoke.leave_now(user.id, lost)
        raise


async def check_join_channel(
    user: CurrentUser,
    channel_id: int,
    since_seq: int | None,
    enter: Callable[[list[str]], Awaitable[None]],
) -> JoinedChannel:
    """Authorize, let the socket enter the rooms, then read the catch-up.

    The rooms are entered before the catch-up is read: a message committed in between is
    then in the catch-up, pushed, or both, and the client keeps one copy per seq.
    """
    ch = await access_channel(user, channel_id)
    await enter([channel_room(channel_id), guild_room(ch.access.guild_id)])
    await _still_allowed(user, channel_id, ch.access.guild_id)
    last_seq = await stream_last_seq(Stream(channel_id=channel_id, guild_id=ch.access.guild_id))
    caught = await queries.catch_up("channel", channel_id, last_seq, since_seq, HISTORY_DEFAULT)
    last_read = await queries.read_marker(user.id, "channel", channel_id)
    fresh = msgspec.structs.replace(ch.channel, last_seq=last_seq)
    return JoinedChannel(
        channel=channel_read(fresh, ch.access, last_read),
        messages=caught.messages,
        resync=caught.resync,
        last_seq=last_seq,
    )


async def check_join_dm(user: CurrentUser, other_id: int, since_seq: int | None) -> JoinedDm:
    """The conversation with another user (made on first join) and what the caller missed."""
    other = await queries.access_dm_partner(user, other_id)
    stream = await _dm_stream(user, other_id, create=True)
    assert stream.conversation_id is not None
    last_seq = await stream_last_seq(stream)
    caught = await queries.catch_up(
        "conversation", stream.conversation_id, last_seq, since_seq, HISTORY_DEFAULT
    )
    conversation = await queries.conversation_read(user, other, stream.conversation_id, last_seq)
    return JoinedDm(
        conversation=conversation,
        messages=caught.messages,
        resync=caught.resync,
        last_seq=last_seq,
    )
