"""Piccolo configuration: one PostgreSQL engine from DATABASE_URL, one app per domain."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from core.settings import get_settings

# asyncpg takes a DSN; a Unix-socket server (embedded pgserver) is `...?host=/dir`.
DB = PostgresEngine(config={"dsn": get_settings().database_url}, log_queries=False)

APP_REGISTRY = AppRegistry(
    apps=[
        "db.auth.piccolo_app",
        "db.guilds.piccolo_app",
        "db.chat.piccolo_app",
        "db.billing.piccolo_app",
        "db.affiliates.piccolo_app",
        "db.tracking.piccolo_app",
        "db.media.piccolo_app",
        "db.courses.piccolo_app",
    ]
)
