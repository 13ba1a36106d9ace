"""The home timeline (seed 001's `GET /timeline`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth import Actor, require_self
from api.models import Id, Problem, TimelineOut
from api.render import json_response, timeline_json
from api.routers.common import errors
from api.routers.reads import Cursor, Limit, page_bounds, queries
from api.wiring import Wiring, wiring

router = APIRouter(tags=["timeline"])


@router.get(
    "/timeline",
    response_model=TimelineOut,
    responses={
        400: {"model": Problem, "description": "The cursor is not one this API returned."},
        **errors(401, 403, 422),
    },
    summary="The home timeline: your tweets and those of everyone you follow, newest first",
)
async def home_timeline(
    user_id: Annotated[Id, Query(description="Whose timeline; must be the token's user.")],
    actor: Actor,
    w: Annotated[Wiring, Depends(wiring)],
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    require_self(actor, user_id, "user_id")
    size, before = page_bounds(limit, cursor)
    return json_response(timeline_json(await queries(w).home(user_id, before, size)))
