"""Piccolo app for media (uploads and packaged video)."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.media.tables import MediaAsset

APP_CONFIG = AppConfig(
    app_name="media",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[MediaAsset],
    migration_dependencies=["db.auth.piccolo_app"],
)
