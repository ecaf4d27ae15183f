"""Guild realtime events: presence, moderation, channel updates."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from realtime import emitter
from realtime.rooms import guild_room, user_room
from server.domains.guilds.schemas import ChannelRead


class Presence(msgspec.Struct, tag_field="type", tag="presence"):
    guild_id: int
    user_id: int
    status: Literal["online", "offline"]


class MemberTimedOut(msgspec.Struct, tag_field="type", tag="member_timed_out"):
    guild_id: int
    user_id: int
    until: datetime | None
    reason: str


class MemberRemoved(msgspec.Struct, tag_field="type", tag="member_removed"):
    guild_id: int
    user_id: int
    action: Literal["kick", "ban", "leave"]
    reason: str


class ChannelUpdated(msgspec.Struct, tag_field="type", tag="channel_updated"):
    channel: ChannelRead


def notify_timeout(guild_id: int, user_id: int, until: datetime | None, reason: str) -> None:
    event = MemberTimedOut(guild_id=guild_id, user_id=user_id, until=until, reason=reason)
    emitter.queue(guild_room(guild_id), "member_timed_out", event)
    emitter.queue(user_room(user_id), "member_timed_out", event)


def notify_removed(guild_id: int, user_id: int, action: Literal["kick", "ban", "leave"],
                   reason: str) -> None:
    event = MemberRemoved(guild_id=guild_id, user_id=user_id, action=action, reason=reason)
    emitter.queue(guild_room(guild_id), "member_removed", event)
    emitter.queue(user_room(user_id), "member_removed", event)


def notify_channel_updated(channel: ChannelRead) -> None:
    emitter.queue(guild_room(channel.guild_id), "channel_updated", ChannelUpdated(channel=channel))


async def publish_presence(guild_ids: list[int], user_id: int,
                           status: Literal["online", "offline"]) -> None:
    for guild_id in guild_ids:
        await emitter.publish_ephemeral(
            guild_room(guild_id), "presence",
            Presence(guild_id=guild_id, user_id=user_id, status=status))
