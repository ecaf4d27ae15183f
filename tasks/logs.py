"""Worker and beat log like the web process (server.logging): JSON lines under LOG_JSON."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

import celery.apps.worker
from celery.signals import celeryd_init, setup_logging

from core.queue import celery_app
from core.settings import get_settings
from server.logging import configure_logging


@setup_logging.connect
def _configure(**_: Any) -> None:
    # Connected, this replaces Celery's own logging set-up (and its stdout redirection, which
    # would wrap each structlog line into another log record).
    configure_logging()


@celeryd_init.connect
def _quiet_worker(instance: celery.apps.worker.Worker | None = None, **_: Any) -> None:
    # The start-up banner is not a log line: JSON logs leave it out.
    if instance is not None and get_settings().log_json:
        instance.quiet = True


def _quiet_beat() -> None:
    # Beat prints its banner before any signal is sent: its class is made quiet up front.
    beat_class = celery_app.Beat

    class QuietBeat(beat_class):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["quiet"] = True
            super().__init__(*args, **kwargs)

    celery_app.Beat = QuietBeat


def _say_json(msg: str, f: Any = sys.__stderr__) -> None:
    """Celery's safe_say (what it prints from signal handlers: "Warm shutdown"...) as a JSON
    line. Still one os.write and no logging lock, as safe in a signal handler as the original."""
    line = {
        "event": msg.strip(),
        "level": "info",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "logger": "celery.apps.worker",
    }
    try:
        os.write(f.fileno(), (json.dumps(line) + "\n").encode())
    except (OSError, AttributeError, ValueError):
        pass  # losing this line must never abort a shutdown


if get_settings().log_json:
    _quiet_beat()
    celery.apps.worker.safe_say = _say_json
# Now, not only at Celery's setup_logging: the warnings of the worker's start come before it.
configure_logging()
