"""Chat realtime events, the rooms they go to, and their notify_* builders (actions queue them)."""

from __future__ import annotations

import msgspec

from realtime import emitter
from realtime.emitter import Outgoing
from realtime.rooms import channel_room, guild_room, user_room
from server.domains.chat.schemas import Author, MessageRead, ReactionRead


class Stream(msgspec.Struct, frozen=True):
    """Where a message lives: a guild channel, or a DM between two users."""

    channel_id: int | None = None
    guild_id: int | None = None
    conversation_id: int | None = None
    pair: tuple[int, int] | None = None

    def rooms(self) -> list[str]:
        if self.channel_id is not None:
            return [channel_room(self.channel_id)]
        assert self.pair is not None
        return [user_room(u) for u in self.pair]


class NewMessage(msgspec.Struct, tag_field="type", tag="new_message"):
    message: MessageRead


class NewDm(msgspec.Struct, tag_field="type", tag="new_dm"):
    conversation_id: int
    message: MessageRead


class MessageEdited(msgspec.Struct, tag_field="type", tag="message_edited"):
    message: MessageRead


class MessageDeleted(msgspec.Struct, tag_field="type", tag="message_deleted"):
    message: MessageRead


class ReactionUpdated(msgspec.Struct, tag_field="type", tag="reaction_updated"):
    message_id: int
    channel_id: int | None
    conversation_id: int | None
    reactions: list[ReactionRead]


class Typing(msgspec.Struct, tag_field="type", tag="typing"):
    channel_id: int | None
    conversation_id: int | None
    user: Author
    expires_in_ms: int


class ChannelActivity(msgspec.Struct, tag_field="type", tag="channel_activity"):
    guild_id: int
    channel_id: int
    last_seq: int
    author_id: int


class UnreadUpdated(msgspec.Struct, tag_field="type", tag="unread_updated"):
    channel_id: int | None
    conversation_id: int | None
    last_read_seq: int
    unread: int


class Mention(msgspec.Struct, tag_field="type", tag="mention"):
    guild_id: int
    channel_id: int
    message: MessageRead


def notify_new(stream: Stream, message: MessageRead, mentioned: list[int]) -> list[Outgoing]:
    if stream.channel_id is not None and stream.guild_id is not None:
        activity = ChannelActivity(
            guild_id=stream.guild_id,
            channel_id=stream.channel_id,
            last_seq=message.seq,
            author_id=message.author.id,
        )
        mention = Mention(guild_id=stream.guild_id, channel_id=stream.channel_id, message=message)
        return [
            Outgoing(channel_room(stream.channel_id), "new_message", NewMessage(message=message)),
            Outgoing(
                guild_room(stream.guild_id),
                "channel_activity",
                activity,
                coalesce=f"activity:{stream.channel_id}",
                rank=message.seq,
            ),
            *(Outgoing(user_room(user_id), "mention", mention) for user_id in mentioned),
        ]
    assert stream.conversation_id is not None
    event = NewDm(conversation_id=stream.conversation_id, message=message)
    return [Outgoing(room, "new_dm", event) for room in stream.rooms()]


# Edits, deletes and reaction changes of one message are coalesced per room (realtime.emitter:
# the first at once, then the latest at most once a second): a burst of 100 edits reaches the
# room as a couple of pushes, and the last push is always the stored state. An edit and a
# delete share a key, so a trailing edit can never land after the delete: a delete ranks above
# every edit. Edits all rank 0, so the last published wins: concurrent edits of one row commit
# one after the other (row lock) and each publishes as soon as it has committed, so the last
# published is the last stored (the edit's own timestamp is taken before it waits for the lock).
_DELETED_RANK = 2**62


def _message_key(message_id: int, room: str) -> str:
    return f"message:{message_id}:{room}"


def notify_edited(stream: Stream, message: MessageRead) -> list[Outgoing]:
    event = MessageEdited(message=message)
    return [
        Outgoing(
            room,
            "message_edited",
            event,
            coalesce=_message_key(message.id, room),
        )
        for room in stream.rooms()
    ]


def notify_deleted(stream: Stream, message: MessageRead) -> list[Outgoing]:
    event = MessageDeleted(message=message)
    return [
        Outgoing(
            room,
            "message_deleted",
            event,
            coalesce=_message_key(message.id, room),
            rank=_DELETED_RANK,
        )
        for room in stream.rooms()
    ]


def notify_reactions(
    stream: Stream, message_id: int, reactions: list[ReactionRead]
) -> list[Outgoing]:
    event = ReactionUpdated(
        message_id=message_id,
        channel_id=stream.channel_id,
        conversation_id=stream.conversation_id,
        reactions=reactions,
    )
    # Rank 0 for all: the latest to be published wins, as without coalescing.
    return [
        Outgoing(room, "reaction_updated", event, coalesce=f"reactions:{message_id}:{room}")
        for room in stream.rooms()
    ]


def notify_unread(user_id: int, stream: Stream, last_read_seq: int, unread: int) -> list[Outgoing]:
    event = UnreadUpdated(
        channel_id=stream.channel_id,
        conversation_id=stream.conversation_id,
        last_read_seq=last_read_seq,
        unread=unread,
    )
    return [Outgoing(user_room(user_id), "unread_updated", event)]


async def publish_typing(stream: Stream, user: Author, skip_sid: str | None) -> None:
    event = Typing(
        channel_id=stream.channel_id,
        conversation_id=stream.conversation_id,
        user=user,
        expires_in_ms=5000,
    )
    rooms = stream.rooms()
    if stream.pair is not None:  # DM: only the other side needs to see it
        rooms = [r for r in rooms if r != user_room(user.id)]
    for room in rooms:
        await emitter.publish_ephemeral(room, "typing", event, skip_sid=skip_sid)
