"""Chat reads: messages with authors and reactions, history pages, catch-up, conversations."""

from __future__ import annotations

from typing import Any

import msgspec

from db.auth.tables import User
from db.chat.tables import DmConversation, Message, UserBlock
from server.domains.auth.schemas import CurrentUser
from server.domains.chat.schemas import (
    CATCH_UP_MAX,
    Author,
    CatchUp,
    ConversationRead,
    HistoryPage,
    MessageRead,
    ReactionRead,
)
from server.errors import ClientError, NotFound

_SELECT = (
    "SELECT m.id, m.channel, m.conversation, m.seq, m.author, u.display_name, m.client_msg_id, "
    "m.content, m.html, m.mentions, m.created_at, m.edited_at, m.deleted_at, "
    "COALESCE((SELECT json_agg(json_build_object('emoji', r.emoji, 'count', r.n, "
    "'user_ids', r.uids) ORDER BY r.first) FROM (SELECT emoji, count(*) AS n, "
    'array_agg(x."user" ORDER BY x.id) AS uids, min(x.id) AS first FROM reactions x '
    "WHERE x.message = m.id GROUP BY emoji) r), '[]') AS reactions "
    "FROM messages m JOIN users u ON u.id = m.author "
)

_REACTIONS = msgspec.json.Decoder(list[ReactionRead])


class Conversation(msgspec.Struct, frozen=True):
    """A DM conversation row: the pair (lower user id first) and its last seq."""

    id: int
    user_low: int
    user_high: int
    last_seq: int


def _message_read(row: dict[str, Any]) -> MessageRead:
    deleted = row["deleted_at"] is not None
    reactions = row.get("reactions") or "[]"
    return MessageRead(
        id=row["id"],
        channel_id=row["channel"],
        conversation_id=row["conversation"],
        seq=row["seq"],
        author=Author(id=row["author"], display_name=row["display_name"]),
        content="" if deleted else row["content"],
        html="" if deleted else row["html"],
        client_msg_id=row["client_msg_id"],
        mentions=list(row["mentions"] or []),
        reactions=[]
        if deleted
        else (
            _REACTIONS.decode(reactions)
            if isinstance(reactions, (str, bytes))
            else msgspec.convert(reactions, list[ReactionRead])
        ),
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        deleted=deleted,
    )


def _stream(column: str) -> str:
    assert column in ("channel", "conversation")
    return f"m.{column} = {{}}"


async def messages_where(
    where: str, *args: Any, order: str = "m.seq", limit: int | None = None
) -> list[MessageRead]:
    sql = _SELECT + "WHERE " + where + f" ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = await Message.raw(sql, *args)
    return [_message_read(r) for r in rows]


async def get_message(message_id: int) -> MessageRead | None:
    found = await messages_where("m.id = {}", message_id)
    return found[0] if found else None


async def history(
    column: str,
    stream_id: int,
    last_seq: int,
    before_seq: int | None,
    after_seq: int | None,
    limit: int,
) -> HistoryPage:
    """A page ascending by seq: after `after_seq`, else before `before_seq`, else the latest."""
    if before_seq is not None and after_seq is not None:
        raise ClientError("Use before_seq or after_seq, not both", code="validation_error")
    if after_seq is not None:
        rows = await messages_where(
            _stream(column) + " AND m.seq > {}", stream_id, after_seq, limit=limit + 1
        )
        return HistoryPage(messages=rows[:limit], has_more=len(rows) > limit, last_seq=last_seq)
    bound = before_seq if before_seq is not None else last_seq + 1
    rows = await messages_where(
        _stream(column) + " AND m.seq < {}", stream_id, bound, order="m.seq DESC", limit=limit + 1
    )
    page = rows[:limit][::-1]
    return HistoryPage(messages=page, has_more=len(rows) > limit, last_seq=last_seq)


async def catch_up(
    column: str, stream_id: int, last_seq: int, since_seq: int | None, latest: int
) -> CatchUp:
    """Everything after since_seq in order, or `resync` past the bound; latest page otherwise."""
    if since_seq is None:
        page = await history(column, stream_id, last_seq, None, None, latest)
        return CatchUp(messages=page.messages, resync=False, last_seq=last_seq)
    if last_seq - since_seq > CATCH_UP_MAX:
        return CatchUp(messages=[], resync=True, last_seq=last_seq)
    rows = await messages_where(_stream(column) + " AND m.seq > {}", stream_id, since_seq)
    return CatchUp(messages=rows, resync=False, last_seq=last_seq)


async def access_dm_partner(user: CurrentUser, other_id: int) -> Author:
    """Another user of the caller's platform, who can be messaged (or raise)."""
    if other_id == user.id:
        raise ClientError("You cannot message yourself", code="cannot_dm_self")
    rows = await User.raw(
        "SELECT id, display_name FROM users WHERE id = {} AND platform = {}",
        other_id,
        user.platform,
    )
    if not rows:
        raise NotFound("No such user", code="user_not_found")
    return msgspec.convert(rows[0], Author)


_CONVERSATION = "SELECT id, user_low, user_high, last_seq FROM dm_conversations WHERE "


async def find_conversation(user_id: int, other_id: int) -> Conversation | None:
    low, high = sorted((user_id, other_id))
    rows = await DmConversation.raw(_CONVERSATION + "user_low = {} AND user_high = {}", low, high)
    return msgspec.convert(rows[0], Conversation) if rows else None


async def get_conversation(conversation_id: int) -> Conversation | None:
    rows = await DmConversation.raw(_CONVERSATION + "id = {}", conversation_id)
    return msgspec.convert(rows[0], Conversation) if rows else None


async def is_blocked_between(a: int, b: int) -> bool:
    return await UserBlock.exists().where(
        ((UserBlock.blocker == a) & (UserBlock.blocked == b))
        | ((UserBlock.blocker == b) & (UserBlock.blocked == a))
    )


async def list_conversations(user: CurrentUser) -> list[ConversationRead]:
    rows = await DmConversation.raw(
        "SELECT c.id, c.last_seq, o.id AS other_id, o.display_name AS other_name, "
        "COALESCE(r.last_read_seq, 0) AS last_read_seq, "
        "EXISTS (SELECT 1 FROM user_blocks b WHERE (b.blocker = {} AND b.blocked = o.id) "
        "OR (b.blocker = o.id AND b.blocked = {})) AS blocked "
        "FROM dm_conversations c JOIN users o ON o.id = CASE WHEN c.user_low = {} "
        "THEN c.user_high ELSE c.user_low END "
        'LEFT JOIN read_markers r ON r.conversation = c.id AND r."user" = {} '
        "WHERE c.user_low = {} OR c.user_high = {} ORDER BY c.last_seq DESC, c.id DESC",
        *([user.id] * 6),
    )
    return [
        ConversationRead(
            id=r["id"],
            other=Author(id=r["other_id"], display_name=r["other_name"]),
            last_seq=r["last_seq"],
            last_read_seq=r["last_read_seq"],
            unread=max(0, r["last_seq"] - r["last_read_seq"]),
            blocked=r["blocked"],
        )
        for r in rows
    ]


async def read_marker(user_id: int, column: str, stream_id: int) -> int:
    assert column in ("channel", "conversation")
    rows = await Message.raw(
        f'SELECT last_read_seq FROM read_markers WHERE "user" = {{}} AND {column} = {{}}',
        user_id,
        stream_id,
    )
    return rows[0]["last_read_seq"] if rows else 0


async def conversation_read(
    user: CurrentUser, other: Author, conversation_id: int, last_seq: int
) -> ConversationRead:
    last_read = await read_marker(user.id, "conversation", conversation_id)
    return ConversationRead(
        id=conversation_id,
        other=other,
        last_seq=last_seq,
        last_read_seq=last_read,
        unread=max(0, last_seq - last_read),
        blocked=await is_blocked_between(user.id, other.id),
    )
