"""Realtime tasks: prove the worker-to-browser path through the Redis backplane."""

from __future__ import annotations

import socket

from tasks.app import celery_app
from tasks.runner import run


@celery_app.task(name="tasks.realtime.welcome", acks_late=True, ignore_result=True)
def welcome(user_id: int) -> bool:
    from server.domains.auth.actions import do_welcome

    return run(do_welcome(user_id, worker=f"celery@{socket.gethostname()}"))


async def _sweep() -> int:
    from realtime import presence
    from server.domains.guilds.events import publish_presence
    from server.domains.guilds.queries import user_guild_ids

    gone = await presence.sweep()
    for user_id in gone:
        await publish_presence(await user_guild_ids(user_id), user_id, "offline")
    return len(gone)


@celery_app.task(name="tasks.realtime.sweep_presence", acks_late=True, ignore_result=True)
def sweep_presence() -> int:
    """Users whose server process died without saying goodbye go offline here."""
    return run(_sweep())
