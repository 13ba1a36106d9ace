"""Accounts: registration hands out the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from api.models import Problem, UserCreate, UserCreated
from api.routers.common import errors
from api.wiring import Wiring, wiring
from infra.accounts import new_token
from schemas.events import Meta, UserRegistered

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserCreated,
    responses={409: {"model": Problem, "description": "The handle is taken."}, **errors(413, 422, 503)},
    summary="Register a user and get a bearer token",
)
async def register(body: UserCreate, w: Annotated[Wiring, Depends(wiring)]) -> UserCreated:
    user_id = w.ids.next_id()
    if not await w.accounts.claim_handle(body.handle, user_id):
        raise HTTPException(status.HTTP_409_CONFLICT, f"handle {body.handle!r} is already taken")
    token = new_token()
    event = UserRegistered(Meta.new(user_id), user_id, body.handle, body.display_name)
    try:
        await w.accounts.save_token(token, user_id)
        await w.events.append(event)
    except BaseException:
        # Nothing half-written: a registration Kafka did not take leaves the handle free.
        await w.accounts.delete_token(token)
        await w.accounts.release_handle(body.handle, user_id)
        raise
    return UserCreated(
        user_id=str(user_id),
        handle=body.handle,
        display_name=body.display_name,
        token=token,
        created_at=event.meta.occurred_at,
    )
