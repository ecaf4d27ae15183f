"""Celery tasks: thin, idempotent wrappers around domain actions."""
