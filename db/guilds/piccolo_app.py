"""Piccolo app for the guilds domain."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.guilds.tables import AuditLog, Channel, ChannelCategory, Guild, GuildBan, GuildMember

APP_CONFIG = AppConfig(
    app_name="guilds",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Guild, GuildMember, GuildBan, ChannelCategory, Channel, AuditLog],
    migration_dependencies=["db.auth.piccolo_app"],
)
