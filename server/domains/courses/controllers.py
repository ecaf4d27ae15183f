"""Learner endpoints of formations: the ones I may open, and one formation's outline."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter

from server.domains.auth.guards import login_required
from server.domains.courses import queries
from server.domains.courses.schemas import FormationRead
from server.errors import error_responses

ERRORS = error_responses(401, 403, 404)
Id = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


class FormationController(Controller):
    path = "/api/formations"
    tags = ["formations"]
    guards = [login_required]

    @get("/", responses=ERRORS)
    async def list_formations(self, request: Request[Any, Any, Any]) -> list[FormationRead]:
        return await queries.list_formations(request.user)

    @get("/{formation_id:int}", responses=ERRORS)
    async def get_formation(
        self, request: Request[Any, Any, Any], formation_id: Id
    ) -> FormationRead:
        fa = await queries.access_formation(request.user, formation_id)
        return await queries.formation_read(fa)
