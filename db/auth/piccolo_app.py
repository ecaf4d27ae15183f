"""Piccolo app for the auth domain."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.auth.tables import LoginToken, Session, User

APP_CONFIG = AppConfig(
    app_name="auth",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[User, LoginToken, Session],
)
