"""Guild request and response Structs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

GuildRole = Literal["owner", "moderator", "member"]
ChannelKind = Literal["text", "announcement"]
MAX_TIMEOUT_S = 28 * 24 * 3600
MAX_SLOW_MODE_S = 21_600
Reason = Annotated[str, msgspec.Meta(max_length=500)]


class GuildRead(msgspec.Struct):
    id: int
    slug: str
    name: str
    description: str
    banner_url: str
    tier: str
    member_count: int
    is_member: bool
    my_role: GuildRole | None
    is_primary: bool


class ChannelRead(msgspec.Struct):
    id: int
    guild_id: int
    category_id: int | None
    name: str
    kind: ChannelKind
    requires_paid: bool
    slow_mode_s: int
    position: int
    last_seq: int
    last_read_seq: int
    unread: int
    can_read: bool
    can_send: bool


class CategoryRead(msgspec.Struct):
    id: int | None
    name: str
    position: int
    channels: list[ChannelRead]


class ChannelsRead(msgspec.Struct):
    guild_id: int
    categories: list[CategoryRead]


class MembershipRead(msgspec.Struct):
    guild_id: int
    role: GuildRole
    joined_at: datetime
    timeout_until: datetime | None
    paid_access: bool
    primary: bool


class MemberRead(msgspec.Struct):
    user_id: int
    display_name: str
    role: GuildRole
    online: bool
    timeout_until: datetime | None


class PrimaryGuildRead(msgspec.Struct):
    guild_id: int
    changed_at: datetime
    next_change_at: datetime


class TimeoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    seconds: Annotated[int, msgspec.Meta(ge=0, le=MAX_TIMEOUT_S)]
    reason: Reason = ""


class ReasonRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason = ""


class PaidAccessRequest(msgspec.Struct, forbid_unknown_fields=True):
    granted: bool


class RoleRequest(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["moderator", "member"]


class ChannelUpdate(msgspec.Struct, forbid_unknown_fields=True):
    slow_mode_s: Annotated[int, msgspec.Meta(ge=0, le=MAX_SLOW_MODE_S)]


class ModerationResult(msgspec.Struct):
    guild_id: int
    user_id: int
    action: str
    until: datetime | None = None


class AuditUser(msgspec.Struct):
    id: int
    display_name: str


class AuditEntry(msgspec.Struct):
    id: int
    action: str
    actor: AuditUser | None
    target: AuditUser | None
    reason: str
    details: dict[str, Any]
    created_at: datetime
