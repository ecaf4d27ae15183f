"""One beat only: a beat takes a Redis lock as it starts and refuses to run without it.

Two beats (a second `make run`, a deploy that started a new beat before stopping the old one)
would send every periodic job twice. The lock is a Redis key holding this beat's random token,
with a TTL that a heartbeat thread keeps pushing back: a beat that dies (even by SIGKILL) lets
it expire within the TTL, and the next beat may start. A second beat finds the key taken and
exits with EXIT_CODE and a log line naming the holder.

The heartbeat only renews a key that still holds our token (a compare-and-set script). If it
finds another token there (this beat was cut off from Redis longer than the TTL and another
beat started), this beat stops itself: the other one now owns the schedule.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import signal
import socket
import threading
from typing import Any

import redis
from celery.signals import beat_init

from core.settings import get_settings

log = logging.getLogger(__name__)

LOCK_KEY = "celery:beat:lock"
EXIT_CODE = 3
DEFAULT_TTL_S = 30.0

# Renew (PEXPIRE) only while the key still holds our token; 1 renewed, 0 absent, -1 other owner.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then return 0 end
return -1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lock_ttl_s() -> float:
    # Short in the fault suite so a killed beat's lock frees quickly; 30 s in production.
    return float(os.environ.get("BEAT_LOCK_TTL_S") or DEFAULT_TTL_S)


class BeatLock:
    """The lock of one beat process: acquire once, renew in a thread, release at exit."""

    def __init__(self, client: redis.Redis, ttl_s: float) -> None:
        self.client = client
        self.ttl_ms = max(1000, int(ttl_s * 1000))
        host = socket.gethostname()
        self.token = f"{host}:{os.getpid()}:{secrets.token_hex(8)}"
        self._stop = threading.Event()

    def acquire(self) -> bool:
        return bool(self.client.set(LOCK_KEY, self.token, nx=True, px=self.ttl_ms))

    def holder(self) -> str:
        value = self.client.get(LOCK_KEY)
        return value.decode() if isinstance(value, bytes) else str(value)

    def renew(self) -> int:
        """1 renewed; 0 the key had expired and was taken again; -1 another beat holds it."""
        result = int(self.client.eval(_RENEW, 1, LOCK_KEY, self.token, self.ttl_ms))
        if result == 0:
            return 0 if self.acquire() else -1
        return result

    def release(self) -> None:
        self._stop.set()
        try:
            self.client.eval(_RELEASE, 1, LOCK_KEY, self.token)
        except redis.RedisError:
            pass  # it expires by itself within the TTL

    def heartbeat(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                outcome = self.renew()
            except redis.RedisError as exc:
                # Redis down: nothing can be sent to the broker either; try again next beat.
                log.warning("beat lock: could not renew (%s)", exc)
                continue
            if outcome == -1:
                log.critical(
                    "beat lock: another beat (%s) holds %s now; this beat stops",
                    self.holder(),
                    LOCK_KEY,
                )
                self._stop.set()
                os.kill(os.getpid(), signal.SIGTERM)  # beat's own handler shuts it down
                return

    def start_heartbeat(self) -> None:
        threading.Thread(target=self.heartbeat, name="beat-lock", daemon=True).start()


def take_beat_lock() -> BeatLock:
    """Take the lock or exit with EXIT_CODE (another beat runs)."""
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=5)
    lock = BeatLock(client, lock_ttl_s())
    if not lock.acquire():
        log.critical(
            "beat refused to start: another beat (%s) holds %s; run one beat only",
            lock.holder(),
            LOCK_KEY,
        )
        raise SystemExit(EXIT_CODE)
    log.info("beat lock %s taken (ttl %.0f s)", LOCK_KEY, lock.ttl_ms / 1000)
    lock.start_heartbeat()
    atexit.register(lock.release)
    return lock


@beat_init.connect
def _on_beat_init(**_: Any) -> None:
    # Sent before the first tick, so a refused beat never sends anything.
    take_beat_lock()
