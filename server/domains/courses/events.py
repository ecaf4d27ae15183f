"""Formation realtime events: a learner's progress, pushed to their other tabs and devices."""

from __future__ import annotations

import msgspec

from realtime.emitter import Outgoing
from realtime.rooms import user_room
from server.domains.courses.schemas import ProgressRead


class CourseProgress(msgspec.Struct, tag_field="type", tag="course_progress"):
    progress: ProgressRead


def notify_progress(user_id: int, progress: ProgressRead) -> list[Outgoing]:
    # Not coalesced: saves come every few seconds per learner, and a completion must never be
    # folded into a later position save.
    return [Outgoing(user_room(user_id), "course_progress", CourseProgress(progress=progress))]
