"""Guild realtime events: presence, moderation, channel updates, the end of access."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from realtime import emitter
from realtime.emitter import Outgoing
from realtime.rooms import guild_room, user_room
from realtime.throttle import Throttle
from server.domains.guilds.schemas import ChannelRead


class Presence(msgspec.Struct, tag_field="type", tag="presence"):
    guild_id: int
    user_id: int
    status: Literal["online", "offline"]


class PresenceBatch(msgspec.Struct, tag_field="type", tag="presence_batch"):
    """Several presence changes of one guild at once (a reconnect storm after a deploy)."""

    guild_id: int
    online: list[int]
    offline: list[int]


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


# Why a user's sockets left a guild's channels (the browser shows it, translated).
AccessReason = Literal[
    "paid_access_removed",  # the owner took paid access away by hand
    "refunded",
    "dispute_lost",
    "payment_grace_ended",  # a failed renewal stayed unpaid past the grace
    "subscription_ended",  # cancelled, expired or ended in Stripe for another reason
    "role_changed",  # no longer a moderator, who reads every channel
    "kick",
    "ban",
    "leave",
]


class AccessEnded(msgspec.Struct, tag_field="type", tag="access_ended"):
    """The user's sockets have left these channels of the guild (sent once they have)."""

    guild_id: int
    channel_ids: list[int]
    reason: AccessReason


class ChannelUpdated(msgspec.Struct, tag_field="type", tag="channel_updated"):
    channel: ChannelRead


def notify_timeout(
    guild_id: int, user_id: int, until: datetime | None, reason: str
) -> list[Outgoing]:
    event = MemberTimedOut(guild_id=guild_id, user_id=user_id, until=until, reason=reason)
    return [
        Outgoing(guild_room(guild_id), "member_timed_out", event),
        Outgoing(user_room(user_id), "member_timed_out", event),
    ]


def notify_removed(
    guild_id: int, user_id: int, action: Literal["kick", "ban", "leave"], reason: str
) -> list[Outgoing]:
    event = MemberRemoved(guild_id=guild_id, user_id=user_id, action=action, reason=reason)
    return [
        Outgoing(guild_room(guild_id), "member_removed", event),
        Outgoing(user_room(user_id), "member_removed", event),
    ]


def notify_access_ended(
    user_id: int, guild_id: int, channel_ids: list[int], reason: AccessReason
) -> list[Outgoing]:
    event = AccessEnded(guild_id=guild_id, channel_ids=sorted(channel_ids), reason=reason)
    return [Outgoing(user_room(user_id), "access_ended", event)]


def notify_channel_updated(channel: ChannelRead) -> list[Outgoing]:
    event = ChannelUpdated(channel=channel)
    return [Outgoing(guild_room(channel.guild_id), "channel_updated", event)]


PRESENCE_WINDOW_S = 0.5


class PresenceBatcher:
    """Per guild and process: the first change goes out at once, later ones in a batch.

    One `presence` event per connect reaches every member, so N members reconnecting after a
    deploy would cost N^2/2 frames; batching makes it about N x (storm length / window).
    """

    def __init__(self) -> None:
        self._throttle: Throttle[int, Presence, dict[int, str]] = Throttle(
            window=lambda: PRESENCE_WINDOW_S,
            leading=_publish_one,
            fold=_note_change,
            trailing=_publish_batch,
        )

    async def note(self, guild_id: int, user_id: int, status: Literal["online", "offline"]) -> None:
        await self._throttle.offer(
            guild_id, Presence(guild_id=guild_id, user_id=user_id, status=status)
        )


async def _publish_one(guild_id: int, change: Presence) -> None:
    await emitter.publish_ephemeral(guild_room(guild_id), "presence", change)


def _note_change(changes: dict[int, str] | None, change: Presence, _: Presence) -> dict[int, str]:
    changes = {} if changes is None else changes
    changes[change.user_id] = change.status  # the latest state of a user wins
    return changes


async def _publish_batch(guild_id: int, changes: dict[int, str]) -> None:
    batch = PresenceBatch(
        guild_id=guild_id,
        online=sorted(u for u, s in changes.items() if s == "online"),
        offline=sorted(u for u, s in changes.items() if s == "offline"),
    )
    await emitter.publish_ephemeral(guild_room(guild_id), "presence_batch", batch)


_batcher = PresenceBatcher()


async def publish_presence(
    guild_ids: list[int], user_id: int, status: Literal["online", "offline"]
) -> None:
    for guild_id in guild_ids:
        await _batcher.note(guild_id, user_id, status)
