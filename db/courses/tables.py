"""Formation (course) tables: formations, modules, lessons and attachments; learners' progress,
completions and certificates; and the channels a completion unlocks.

A formation belongs to a product: whoever has access to the product has access to it, through
the one paid-access rule (server/domains/paid_access.py). Modules and lessons carry an
availability rule: now, N days after the learner's access started, a fixed date, or after
another module or lesson is completed.
"""

from __future__ import annotations

from piccolo.columns import (
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from db.auth.tables import User
from db.billing.tables import Product
from db.guilds.tables import Channel
from db.media.tables import MediaAsset


class Formation(Table, tablename="formations"):
    id: Serial  # the implicit primary key, declared for the type checker

    platform = Varchar(length=16, index=True)
    product = ForeignKey(Product, on_delete=OnDelete.restrict, index=True)
    title = Varchar(length=160)
    description = Text(default="")
    cover = ForeignKey(MediaAsset, null=True, on_delete=OnDelete.set_null)
    # draft | published | archived
    state = Varchar(length=16, default="draft")
    position = Integer(default=0)
    published_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class CourseModule(Table, tablename="course_modules"):
    id: Serial  # the implicit primary key, declared for the type checker

    formation = ForeignKey(Formation, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=160)
    description = Text(default="")
    position = Integer(default=0)
    state = Varchar(length=16, default="published")
    # now | drip | date | after  (rule_days for drip, rule_date for date, rule_after_* for after)
    rule = Varchar(length=8, default="now")
    rule_days = Integer(default=0)
    rule_date = Timestamptz(null=True, default=None)
    # Plain ids, not foreign keys: they point forward and backward between two tables (Piccolo's
    # lazy references do not migrate), and the authoring actions clear them on delete.
    rule_after_module = Integer(null=True, default=None)
    rule_after_lesson = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Lesson(Table, tablename="lessons"):
    id: Serial  # the implicit primary key, declared for the type checker

    module = ForeignKey(CourseModule, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=160)
    # Markdown as written, and its sanitized HTML (rendered once, on save).
    body_md = Text(default="")
    body_html = Text(default="")
    video = ForeignKey(MediaAsset, null=True, on_delete=OnDelete.set_null)
    duration_s = Integer(default=0)
    position = Integer(default=0)
    state = Varchar(length=16, default="published")
    rule = Varchar(length=8, default="now")
    rule_days = Integer(default=0)
    rule_date = Timestamptz(null=True, default=None)
    rule_after_module = Integer(null=True, default=None)
    rule_after_lesson = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class LessonAttachment(Table, tablename="lesson_attachments"):
    id: Serial  # the implicit primary key, declared for the type checker

    lesson = ForeignKey(Lesson, on_delete=OnDelete.cascade, index=True)
    asset = ForeignKey(MediaAsset, on_delete=OnDelete.cascade)
    title = Varchar(length=160, default="")
    position = Integer(default=0)


class LessonProgress(Table, tablename="lesson_progress"):
    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    lesson = ForeignKey(Lesson, on_delete=OnDelete.cascade, index=True)
    # Where playback stands (restored on any device) and the furthest point reached.
    position_s = Integer(default=0)
    furthest_s = Integer(default=0)
    completed_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())

    unique_progress_user_lesson = Unique(["user", "lesson"])


class ModuleCompletion(Table, tablename="module_completions"):
    """A fact, kept once reached: lessons added later do not take an unlocked channel back."""

    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    module = ForeignKey(CourseModule, on_delete=OnDelete.cascade)
    completed_at = Timestamptz(default=TimestamptzNow())

    unique_module_completion = Unique(["user", "module"])


class Certificate(Table, tablename="certificates"):
    """A finished formation: the learner's name and the title are frozen as they were."""

    id: Serial  # the implicit primary key, declared for the type checker

    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    formation = ForeignKey(Formation, on_delete=OnDelete.cascade)
    code = Varchar(length=32, unique=True)
    learner_name = Varchar(length=100)
    formation_title = Varchar(length=160)
    platform = Varchar(length=16)
    completed_at = Timestamptz(default=TimestamptzNow())

    unique_certificate_user_formation = Unique(["user", "formation"])


class ChannelRequirement(Table, tablename="channel_requirements"):
    """A guild channel readable only once a formation (or one of its modules) is completed."""

    id: Serial  # the implicit primary key, declared for the type checker

    channel = ForeignKey(Channel, on_delete=OnDelete.cascade, unique=True)
    formation = ForeignKey(Formation, on_delete=OnDelete.cascade, index=True)
    module = ForeignKey(CourseModule, null=True, on_delete=OnDelete.cascade)
