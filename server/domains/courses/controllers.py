"""Learner endpoints of formations: the ones I may open, one formation's outline, and saving
progress (the playback position, completing a lesson)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody, Parameter

from server.domains.auth.guards import login_required
from server.domains.courses import actions, queries
from server.domains.courses.schemas import FormationRead, PositionSave, ProgressRead
from server.errors import error_responses

ERRORS = error_responses(401, 403, 404)
WRITE_ERRORS = error_responses(400, 401, 403, 404)
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


class LessonProgressController(Controller):
    path = "/api/lessons"
    tags = ["formations"]
    guards = [login_required]

    @put("/{lesson_id:int}/progress", responses=WRITE_ERRORS)
    async def save_position(
        self, request: Request[Any, Any, Any], lesson_id: Id, data: JSONBody[PositionSave]
    ) -> ProgressRead:
        return await actions.check_save_position(request.user, lesson_id, data.position_s)

    @post("/{lesson_id:int}/complete", status_code=200, responses=WRITE_ERRORS)
    async def complete(self, request: Request[Any, Any, Any], lesson_id: Id) -> ProgressRead:
        return await actions.check_complete(request.user, lesson_id)
