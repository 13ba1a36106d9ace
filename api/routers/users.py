"""Accounts: registration hands out the bearer token."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status

from api import registration
from api.idempotency import Ids
from api.models import Id, Problem, TweetPage, UserCreate, UserCreated, UserOut, UserPage
from api.registration import Credentials
from api.render import json_response, page_json
from api.routers.common import errors
from api.routers.reads import Cursor, Limit, author_out, page_bounds, queries
from api.throttle import per_address, reader
from api.wiring import Wiring, wiring
from projections.timeline import encode_cursor

router = APIRouter(tags=["users"])
log = logging.getLogger("chirp.api")


@router.post(
    "/users",
    dependencies=[per_address("register")],
    status_code=status.HTTP_201_CREATED,
    response_model=UserCreated,
    responses={409: {"model": Problem, "description": "The handle (or the e-mail address) is taken."},
               **errors(413, 422, 503)},
    summary="Register a user and get a bearer token",
)  # fmt: skip
async def register(body: UserCreate, w: Annotated[Wiring, Depends(wiring)], ids: Ids) -> UserCreated:
    """The handle is claimed, then the event appended (api/registration.py, the command POST /api/v1/accounts
    runs too). With a `password` (and optionally an `email`) the account can also sign in through OAuth."""
    credentials = None if body.password is None else Credentials(body.password, body.email)
    try:
        done = await registration.register(w, ids, body.handle, body.display_name, credentials)
    except registration.Taken as exc:
        what = f"handle {body.handle!r}" if exc.field == "handle" else "that e-mail address"
        raise HTTPException(status.HTTP_409_CONFLICT, f"{what} is already taken") from None
    return UserCreated(
        user_id=str(done.user_id),
        handle=body.handle,
        display_name=body.display_name,
        token=done.token,
        created_at=done.event.meta.occurred_at,
    )


UserId = Annotated[Id, Path(description="A user id (decimal string).", examples=["7251846523904000"])]
W = Annotated[Wiring, Depends(wiring)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such user."},
    400: {"model": Problem},
    **errors(422),
}


async def _known(w: Wiring, user_id: int) -> None:
    if not await queries(w).users([user_id]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found")


@router.get(
    "/users/{user_id}", dependencies=[reader()], response_model=UserOut, responses=NOT_FOUND, summary="A user's profile"
)
async def get_user(user_id: UserId, w: W) -> UserOut:
    profile = await queries(w).profile(user_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found")
    u = profile.user
    return UserOut(user_id=str(u.user_id), handle=u.handle, display_name=u.display_name,
                   followers_count=profile.followers, following_count=profile.following)  # fmt: skip


@router.get("/users/{user_id}/tweets", dependencies=[reader()], response_model=TweetPage, responses=NOT_FOUND,
            summary="A user's own tweets (the user timeline), newest first")  # fmt: skip
async def user_tweets(user_id: UserId, w: W, limit: Limit = 20, cursor: Cursor = None) -> Response:
    size, before = page_bounds(limit, cursor)
    await _known(w, user_id)
    return json_response(page_json(await queries(w).user_tweets(user_id, before, size)))


@router.get("/users/{user_id}/followers", dependencies=[reader()], response_model=UserPage, responses=NOT_FOUND,
            summary="Who follows this user")  # fmt: skip
async def followers(user_id: UserId, w: W, limit: Limit = 20, cursor: Cursor = None) -> UserPage:
    size, before = page_bounds(limit, cursor)
    await _known(w, user_id)
    users, nxt = await queries(w).followers(user_id, before, size)
    return UserPage(users=[author_out(u) for u in users], next_cursor=encode_cursor(nxt) if nxt else None)


@router.get("/users/{user_id}/following", dependencies=[reader()], response_model=UserPage, responses=NOT_FOUND,
            summary="Whom this user follows")  # fmt: skip
async def following(user_id: UserId, w: W, limit: Limit = 20, cursor: Cursor = None) -> UserPage:
    size, before = page_bounds(limit, cursor)
    await _known(w, user_id)
    users, nxt = await queries(w).following(user_id, before, size)
    return UserPage(users=[author_out(u) for u in users], next_cursor=encode_cursor(nxt) if nxt else None)
