"""Accounts: registration hands out the bearer token."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status

from api.aftermath import after_append
from api.idempotency import Ids
from api.models import Id, Problem, TweetPage, UserCreate, UserCreated, UserOut, UserPage
from api.render import json_response, page_json
from api.routers.common import errors
from api.routers.reads import Cursor, Limit, author_out, page_bounds, queries
from api.throttle import per_address, reader
from api.wiring import Wiring, wiring
from infra.accounts import new_token
from infra.eventlog import EventLogUnavailable
from projections.timeline import encode_cursor
from schemas.events import UserRegistered

router = APIRouter(tags=["users"])
log = logging.getLogger("chirp.api")


@router.post(
    "/users",
    dependencies=[per_address("register")],
    status_code=status.HTTP_201_CREATED,
    response_model=UserCreated,
    responses={409: {"model": Problem, "description": "The handle is taken."}, **errors(413, 422, 503)},
    summary="Register a user and get a bearer token",
)
async def register(body: UserCreate, w: Annotated[Wiring, Depends(wiring)], ids: Ids) -> UserCreated:
    """The handle is claimed (a Cassandra lightweight transaction: one winner), then the event appended.
    If Kafka certainly did not take the event the claim is released; if it may have (a time-out after
    sending), the claim stays with that user id, and a later registration of the handle finishes that
    one (`_unfinished`) rather than making a second account for the handle."""
    user_id = ids.next_id()
    if not await w.accounts.claim_handle(body.handle, user_id):
        unfinished = await _unfinished(w, body.handle)
        if unfinished is None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"handle {body.handle!r} is already taken")
        user_id = unfinished
    token = new_token()
    event = UserRegistered(ids.meta(user_id), user_id, body.handle, body.display_name)
    try:
        await w.accounts.save_token(token, user_id)
        await w.events.append(event)
    except BaseException as exc:
        if not (isinstance(exc, EventLogUnavailable) and exc.maybe_written):
            # Kafka did not take the registration: the handle is free again.
            await after_append("release of the handle", w.accounts.release_handle(body.handle, user_id), None)
        await after_append("removal of the unused token", w.accounts.delete_token(token), None)
        raise
    await after_append("account record", w.accounts.record_account(user_id, body.handle), None)
    return UserCreated(
        user_id=str(user_id),
        handle=body.handle,
        display_name=body.display_name,
        token=token,
        created_at=event.meta.occurred_at,
    )


async def _unfinished(w: Wiring, handle: str) -> int | None:
    """The user id of a registration of `handle` that was never answered with success (its event may or may
    not be in the log) and is older than any request still running; None when the handle is really taken."""
    claim = await w.accounts.handle_claim(handle)
    if claim is None:
        return None
    user_id, claimed_at = claim
    settled = datetime.now(UTC) - claimed_at > timedelta(seconds=2 * w.settings.kafka_send_timeout_ms / 1000 + 5)
    if not settled or await w.accounts.user_exists(user_id) or await queries(w).users([user_id]):
        return None
    log.warning("finishing an unanswered registration of user %d", user_id)
    return user_id


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
