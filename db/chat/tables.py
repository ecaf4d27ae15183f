"""Chat tables: one message table for channels and DM conversations, each numbered by seq."""

from __future__ import annotations

from piccolo.columns import Array, BigInt, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from db.auth.tables import User
from db.guilds.tables import Channel


class DmConversation(Table, tablename="dm_conversations"):
    """One per pair of users, stored with user_low < user_high so the pair is unique."""

    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16)
    user_low = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    user_high = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    last_seq = BigInt(default=0)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_dm_pair = Unique(["user_low", "user_high"])


class Message(Table, tablename="messages"):
    id: Serial  # the implicit primary key, declared for the type checker

    channel = ForeignKey(Channel, null=True, on_delete=OnDelete.cascade)
    conversation = ForeignKey(DmConversation, null=True, on_delete=OnDelete.cascade)
    seq = BigInt()
    author = ForeignKey(User, on_delete=OnDelete.cascade)
    client_msg_id = Varchar(length=64)
    content = Text(default="")
    html = Text(default="")
    mentions = Array(base_column=Integer(), default=[])
    created_at = Timestamptz(default=TimestamptzNow())
    edited_at = Timestamptz(null=True, default=None)
    deleted_at = Timestamptz(null=True, default=None)
    deleted_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)

    unique_channel_seq = Unique(["channel", "seq"])
    unique_conversation_seq = Unique(["conversation", "seq"])
    unique_client_msg = Unique(["author", "client_msg_id"])


class Reaction(Table, tablename="reactions"):
    id: Serial  # the implicit primary key, declared for the type checker

    message = ForeignKey(Message, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    emoji = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_reaction = Unique(["message", "user", "emoji"])


class ReadMarker(Table, tablename="read_markers"):
    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    channel = ForeignKey(Channel, null=True, on_delete=OnDelete.cascade)
    conversation = ForeignKey(DmConversation, null=True, on_delete=OnDelete.cascade)
    last_read_seq = BigInt(default=0)

    unique_user_channel = Unique(["user", "channel"])
    unique_user_conversation = Unique(["user", "conversation"])


class UserBlock(Table, tablename="user_blocks"):
    id: Serial  # the implicit primary key, declared for the type checker

    blocker = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    blocked = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_block_pair = Unique(["blocker", "blocked"])
