"""Prometheus metrics beyond Litestar's request metrics: sockets and Celery task outcomes.

Task outcomes are counted by the worker processes in a Redis hash, so the numbers survive
worker restarts and every web process exposes the same totals.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from core.settings import get_settings
from server.ratelimit import REFUSALS_KEY

TASKS_KEY = "metrics:tasks"

SOCKETS = Gauge("realtime_socket_connections", "Socket.IO connections open in this process")


class TaskOutcomeCollector(Collector):
    def __init__(self) -> None:
        self._client: redis.Redis | None = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "celery_task_outcomes", "Celery task outcomes", labels=["task", "state"]
        )
        try:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    get_settings().redis_url, decode_responses=True, socket_timeout=1
                )
            counts = self._client.hgetall(TASKS_KEY)
        except redis.RedisError:
            counts = {}
        for field, value in sorted(counts.items()):
            task, _, state = str(field).rpartition("|")
            family.add_metric([task, state], float(value))
        yield family


class RateLimitCollector(Collector):
    """Refusals per limit name (server/ratelimit.py counts them in Redis, across processes):
    a sign-in limit that refuses many requests is an attack or a budget set too low."""

    def __init__(self) -> None:
        self._client: redis.Redis | None = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "rate_limit_refusals",
            "Requests and socket events refused by a rate limit",
            labels=["limit"],
        )
        try:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    get_settings().redis_url, decode_responses=True, socket_timeout=1
                )
            counts = self._client.hgetall(REFUSALS_KEY)
        except redis.RedisError:
            counts = {}
        for name, value in sorted(counts.items()):
            family.add_metric([str(name)], float(value))
        yield family


class FanoutCollector(Collector):
    """How this process delivered broadcast recipients (realtime/fanout/ keeps plain ints:
    a Prometheus counter per recipient would cost more than the write itself), and whether the
    engine runs at all: a library upgrade makes it fall back to stock python-socketio, which
    still delivers but several times slower, so it must show on a dashboard."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | InfoMetricFamily]:
        from realtime.fanout import ENGINE, STATS

        family = CounterMetricFamily(
            "realtime_fanout_recipients", "Broadcast recipients by delivery path", labels=["path"]
        )
        family.add_metric(["shared"], float(STATS.shared))
        family.add_metric(["inline"], float(STATS.inline))
        family.add_metric(["library"], float(STATS.fallback))
        family.add_metric(["blocked"], float(STATS.blocked))
        yield family
        yield CounterMetricFamily(
            "realtime_fanout_slow_sockets_closed",
            "Sockets closed for a backlog over the limit behind a blocked send",
            value=float(STATS.overflowed),
        )
        yield CounterMetricFamily(
            "realtime_fanout_hook_misses",
            "Websocket recipients sent the slow way because a hooked library method was not called",
            value=float(STATS.hook_misses),
        )
        yield GaugeMetricFamily(
            "realtime_fanout_engine_active",
            "1 when the fan-out engine delivers room events, 0 on stock python-socketio",
            value=1.0 if ENGINE.active else 0.0,
        )
        info = InfoMetricFamily(
            "realtime_fanout_engine", "The fan-out engine's state and why", labels=["state"]
        )
        info.add_metric([ENGINE.state], {"reason": ENGINE.reason})
        yield info
        mismatch = InfoMetricFamily(
            "realtime_fanout_version_mismatch",
            "Hooked libraries whose installed version is not the one the engine was written for",
            labels=["package"],
        )
        for package, expected, installed in ENGINE.mismatches:
            mismatch.add_metric([package], {"expected": expected, "installed": installed})
        if ENGINE.mismatches:  # a family without samples would only be noise
            yield mismatch


class BackplaneCollector(Collector):
    """This process's Redis listener (realtime/backplane.py): while it is down, events published
    by the other processes and by Celery do not reach this process's sockets."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | InfoMetricFamily]:
        from realtime.sio import backplane_status

        status = backplane_status()
        yield GaugeMetricFamily(
            "realtime_backplane_listening",
            "1 while this process's Redis listener is subscribed",
            value=1.0 if status.state == "listening" else 0.0,
        )
        yield GaugeMetricFamily(
            "realtime_backplane_down_seconds",
            "How long the Redis listener has been down (0 while it listens)",
            value=status.down_for_s(),
        )
        yield CounterMetricFamily(
            "realtime_backplane_outages",
            "Redis listener outages recovered from (each ends with a resync of local sockets)",
            value=float(status.outages),
        )
        yield GaugeMetricFamily(
            "realtime_backplane_last_outage_seconds",
            "Length of the last Redis listener outage",
            value=status.last_outage_s,
        )
        yield CounterMetricFamily(
            "realtime_backplane_resynced_sockets",
            "Local sockets told to rejoin with since_seq after an outage",
            value=float(status.resynced_sockets),
        )
        info = InfoMetricFamily(
            "realtime_backplane", "The Redis listener's state", labels=["state"]
        )
        info.add_metric([status.state], {"error": status.error})
        yield info


_registered = False


def register_collectors() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(TaskOutcomeCollector())
        REGISTRY.register(FanoutCollector())
        REGISTRY.register(BackplaneCollector())
        REGISTRY.register(RateLimitCollector())
        _registered = True
