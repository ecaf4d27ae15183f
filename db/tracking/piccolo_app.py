"""Piccolo app for affiliate tracking and attribution."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from db.tracking.tables import Attribution, PurchaseAttribution, TrackingEvent

APP_CONFIG = AppConfig(
    app_name="tracking",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[TrackingEvent, Attribution, PurchaseAttribution],
    migration_dependencies=["db.affiliates.piccolo_app", "db.billing.piccolo_app"],
)
