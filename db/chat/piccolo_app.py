"""Piccolo app for the chat domain."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.chat.tables import DmConversation, Message, Reaction, ReadMarker, UserBlock

APP_CONFIG = AppConfig(
    app_name="chat",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[DmConversation, Message, Reaction, ReadMarker, UserBlock],
    migration_dependencies=["db.guilds.piccolo_app"],
)
