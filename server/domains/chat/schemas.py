"""Chat Structs: messages, socket event payloads and history pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from server.domains.guilds.schemas import ChannelRead

MAX_CONTENT = 4000
MAX_REACTIONS = 20
HISTORY_DEFAULT = 50
CATCH_UP_MAX = 500

# Row ids are PostgreSQL integers (serial): anything larger cannot exist.
Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# Length is checked after trimming, with a clear `too_long` error; this bound only stops abuse.
Content = Annotated[str, msgspec.Meta(max_length=MAX_CONTENT * 4)]
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class Author(msgspec.Struct):
    id: int
    display_name: str


class ReactionRead(msgspec.Struct):
    emoji: str
    count: int
    user_ids: list[int]


class MessageRead(msgspec.Struct):
    id: int
    channel_id: int | None
    conversation_id: int | None
    seq: int
    author: Author
    content: str
    html: str
    client_msg_id: str
    mentions: list[int]
    reactions: list[ReactionRead]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class HistoryPage(msgspec.Struct):
    messages: list[MessageRead]
    has_more: bool
    last_seq: int


class SendMessage(msgspec.Struct, forbid_unknown_fields=True):
    channel_id: Id
    content: Content
    client_msg_id: ClientMsgId


class SendDm(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id
    content: Content
    client_msg_id: ClientMsgId


class EditMessage(msgspec.Struct, forbid_unknown_fields=True):
    message_id: Id
    content: Content


class MessageRef(msgspec.Struct, forbid_unknown_fields=True):
    message_id: Id


class React(msgspec.Struct, forbid_unknown_fields=True):
    message_id: Id
    emoji: Emoji


class JoinChannel(msgspec.Struct, forbid_unknown_fields=True):
    channel_id: Id
    since_seq: Seq | None = None


class ChannelRef(msgspec.Struct, forbid_unknown_fields=True):
    channel_id: Id


class JoinDm(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id
    since_seq: Seq | None = None


class StreamRef(msgspec.Struct, forbid_unknown_fields=True):
    """A channel or a DM partner: exactly one of the two."""

    channel_id: Id | None = None
    user_id: Id | None = None


class MarkRead(msgspec.Struct, forbid_unknown_fields=True):
    seq: Seq
    channel_id: Id | None = None
    user_id: Id | None = None


class SendResult(msgspec.Struct):
    message: MessageRead
    duplicate: bool


class ReactResult(msgspec.Struct):
    message_id: int
    reactions: list[ReactionRead]
    added: bool


class ReadResult(msgspec.Struct):
    last_read_seq: int
    unread: int


class CatchUp(msgspec.Struct):
    messages: list[MessageRead]
    resync: bool
    last_seq: int


class ConversationRead(msgspec.Struct):
    id: int
    other: Author
    last_seq: int
    last_read_seq: int
    unread: int
    blocked: bool


class BlockResult(msgspec.Struct):
    user_id: int
    blocked: bool


class JoinedChannel(msgspec.Struct):
    """Ack of join_channel: the channel with my read marker, and what I missed."""

    channel: ChannelRead
    messages: list[MessageRead]
    resync: bool
    last_seq: int


class JoinedDm(msgspec.Struct):
    """Ack of join_dm: the conversation (made on first join), and what I missed."""

    conversation: ConversationRead
    messages: list[MessageRead]
    resync: bool
    last_seq: int
