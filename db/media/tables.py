"""Media tables: uploaded files (videos, attachments, covers) and their packaging state.

An asset moves uploading -> uploaded -> processing -> ready, or to failed with the reason.
Only a ready asset is ever shown to learners; everything before it is the author's business.
"""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from db.auth.tables import User


class MediaAsset(Table, tablename="media_assets"):
    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16, index=True)
    owner = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    # video | attachment | cover
    kind = Varchar(length=16)
    # uploading | uploaded | processing | ready | failed
    status = Varchar(length=16, default="uploading", index=True)
    # Packaging progress, 0-100, pushed live to the author.
    progress = Integer(default=0)
    # A stable code (media_too_large, not_video, ffmpeg_failed ...) and a readable detail.
    error_code = Varchar(length=40, default="")
    error = Text(default="")
    filename = Varchar(length=255, default="")
    content_type = Varchar(length=120, default="")
    # Declared by the client when the upload starts (tus Upload-Length); offset: bytes on disk.
    size_bytes = BigInt(default=0)
    upload_offset = BigInt(default=0)
    # local | bunny; storage_key: the directory (local) or the video guid (Bunny Stream).
    storage = Varchar(length=16, default="local")
    storage_key = Varchar(length=255, default="")
    duration_s = Integer(default=0)
    # [{"name": "720p", "height": 720, "bandwidth": 2800000}, ...]
    renditions = JSONB(default=[])
    # Who packages it and until when (a crashed worker's lease expires; the sweep re-queues).
    lease_until = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
