"""Liveness and readiness endpoints."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from server.domains.ops.checks import Readiness, readiness


class Health(msgspec.Struct):
    status: str


class OpsController(Controller):
    tags = ["ops"]

    @get("/healthz")
    async def healthz(self) -> Health:
        """The process is alive."""
        return Health(status="ok")

    @get("/readyz", responses={503: ResponseSpec(Readiness, description="Something is down")})
    async def readyz(self) -> Response[Readiness]:
        """PostgreSQL, Redis and at least one Celery worker answer, and this process's Redis
        listener is subscribed (else 503 with details).

        The `fanout` entry says whether the fan-out engine runs or fell back to stock
        python-socketio, and why; it never makes the process unready.
        """
        result = await readiness()
        return Response(result, status_code=200 if result.status == "ready" else 503)
