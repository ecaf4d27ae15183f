"""The product's Celery app with a one-job beat schedule of a short period, for the two-beats case.

The job goes to a queue no worker reads, so the case counts what beat sent by reading it.
Only the beats the case starts load this module: importing it replaces the product app's beat
schedule in the importing process.
"""

from __future__ import annotations

import os

from tasks.app import celery_app

PROBE_QUEUE = "faults-beat-probe"
PROBE_TASK = "faults.beat_probe"

celery_app.conf.beat_schedule = {
    "probe": {
        "task": PROBE_TASK,
        "schedule": float(os.environ.get("BEAT_PROBE_PERIOD_S", "1")),
        "options": {"queue": PROBE_QUEUE},
    }
}

__all__ = ["celery_app"]
