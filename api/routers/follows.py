"""The follow graph: follow and unfollow."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.auth import Actor, require_self
from api.idempotency import Ids
from api.models import FollowBody, Problem
from api.routers.common import errors
from api.throttle import per_user
from api.wiring import Wiring, wiring
from schemas.events import UserFollowed, UserUnfollowed

router = APIRouter(tags=["follows"])
W = Annotated[Wiring, Depends(wiring)]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **errors(401, 403, 413, 422, 503),
    404: {"model": Problem, "description": "No such user."},
}


async def _check(body: FollowBody, actor: int, w: Wiring) -> None:
    require_self(actor, body.follower_id, "follower_id")
    if body.follower_id == body.followee_id:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "followee_id"),
                    "msg": "a user cannot follow themselves",
                }
            ]
        )
    if not await w.accounts.user_exists(body.followee_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {body.followee_id} not found")


@router.post(
    "/follow",
    dependencies=[per_user("follows", "writes")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Follow a user",
)
async def follow(body: FollowBody, actor: Actor, w: W, ids: Ids) -> Response:
    await _check(body, actor, w)
    await w.events.append(UserFollowed(ids.meta(actor), body.follower_id, body.followee_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/follow",
    dependencies=[per_user("follows", "writes")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Unfollow a user",
    description="The ids go in the JSON body. Clients that cannot send a body with DELETE may give both as "
    "query parameters instead (`?follower_id=…&followee_id=…`).",
    # The schema states the body form alone: "a body, or else both query parameters" has no JSON Schema.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FollowBody"}}},
        }
    },
)
async def unfollow(
    actor: Actor,
    w: W,
    ids: Ids,
    body: Annotated[FollowBody | None, Body()] = None,
    follower_id: Annotated[str | None, Query(include_in_schema=False)] = None,
    followee_id: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Response:
    if body is None:
        try:
            body = FollowBody.model_validate({"follower_id": follower_id, "followee_id": followee_id})
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from exc
    await _check(body, actor, w)
    await w.events.append(UserUnfollowed(ids.meta(actor), body.follower_id, body.followee_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
