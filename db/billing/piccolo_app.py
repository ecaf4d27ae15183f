"""Piccolo app for the billing domain."""
from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.billing.tables import StripeEvent

APP_CONFIG = AppConfig(
    app_name="billing",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[StripeEvent],
    migration_dependencies=["db.chat.piccolo_app"],
)
