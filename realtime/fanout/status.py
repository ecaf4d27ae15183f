"""What the fan-out engine reports: delivery counts, and whether it runs or fell back and why."""

from __future__ import annotations

import structlog

log = structlog.get_logger("realtime.fanout")


class FanoutStats:
    """Recipients by delivery path, per process (exported as metrics): shared wire bytes,
    an ASGI send per socket, the library's own path; and sends that blocked."""

    shared = 0
    inline = 0
    fallback = 0
    blocked = 0
    overflowed = 0  # sockets closed because too much waited behind a blocked send
    # Websocket recipients that should have been on the inline path but were not: a hook the
    # engine relies on was not called (a library changed under it).
    hook_misses = 0


STATS = FanoutStats()


class EngineStatus:
    """The engine's state in this process: "active", "fallback" (stock python-socketio since
    import) or "degraded" (installed, but a hook was not called, so some sockets take the slow
    path). Readiness and metrics read it; every change is logged as a warning."""

    def __init__(self) -> None:
        self.state = "active"
        self.reason = ""
        # (package, version the engine was written against, installed version or "missing")
        self.mismatches: list[tuple[str, str, str]] = []
        self._warned: set[str] = set()

    @property
    def active(self) -> bool:
        return self.state == "active"

    def fall_back(self, reason: str, mismatches: list[tuple[str, str, str]]) -> None:
        self.state, self.reason, self.mismatches = "fallback", reason, mismatches
        log.warning(
            "fanout engine disabled: stock python-socketio delivers room events (slower)",
            reason=reason,
            mismatches=[f"{p} expected {e}, installed {i}" for p, e, i in mismatches],
        )

    def hook_missed(self, reason: str) -> None:
        # Once per reason: this is found on the delivery path, possibly for every event.
        if reason in self._warned:
            return
        self._warned.add(reason)
        if self.state == "active":
            self.state, self.reason = "degraded", reason
        log.warning("fanout engine hook not called: sockets take the slow path", reason=reason)

    def describe(self) -> str:
        if self.state == "active":
            return "engine active"
        return f"{self.state}: {self.reason}"


ENGINE = EngineStatus()
