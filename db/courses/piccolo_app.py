"""Piccolo app for formations (courses), progress and certificates."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.courses.tables import (
    Certificate,
    ChannelRequirement,
    CourseModule,
    Formation,
    Lesson,
    LessonAttachment,
    LessonProgress,
    ModuleCompletion,
)

APP_CONFIG = AppConfig(
    app_name="courses",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        Formation,
        CourseModule,
        Lesson,
        LessonAttachment,
        LessonProgress,
        ModuleCompletion,
        Certificate,
        ChannelRequirement,
    ],
    migration_dependencies=[
        "db.auth.piccolo_app",
        "db.billing.piccolo_app",
        "db.guilds.piccolo_app",
        "db.media.piccolo_app",
    ],
)
