"""Tokens: issue another bearer token for the caller, or revoke the one in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from api.auth import Actor
from api.headers import bearer
from api.models import TokenCreated
from api.routers.common import errors
from api.throttle import per_user
from api.wiring import Wiring, wiring
from infra.accounts import new_token

router = APIRouter(tags=["users"])
W = Annotated[Wiring, Depends(wiring)]


@router.post(
    "/tokens",
    dependencies=[per_user("writes")],
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses=errors(401, 422, 503),
    summary="Issue another bearer token for the caller (another device); the one sent stays valid",
)
async def issue(request: Request, actor: Actor, w: W) -> TokenCreated:
    """The new token has the scopes and application of the one sent (an OAuth token cannot widen itself)."""
    sent = await w.accounts.token_grant(bearer(request.headers.get("authorization")) or "")
    token = new_token()
    await w.accounts.save_token(token, actor, sent.scopes if sent else None, sent.client_id if sent else None)
    expires = datetime.now(UTC) + timedelta(seconds=w.settings.token_ttl_s)
    return TokenCreated(user_id=str(actor), token=token, expires_at=expires)


@router.delete(
    "/tokens/current",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 422, 503),
    summary="Revoke the token this request carries; every API process refuses it within a second",
)
async def revoke(request: Request, actor: Actor, w: W) -> Response:
    _, _, token = request.headers.get("authorization", "").partition(" ")
    await w.accounts.delete_token(token.strip())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
