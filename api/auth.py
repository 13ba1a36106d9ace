"""Bearer-token authentication: the token's user is the actor of every write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from api.headers import bearer
from api.wiring import Wiring, wiring

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def current_user(request: Request, w: Annotated[Wiring, Depends(wiring)]) -> int:
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers=_UNAUTHORIZED)
    user_id = await w.accounts.user_for_token(token)
    if user_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers=_UNAUTHORIZED)
    return user_id


Actor = Annotated[int, Depends(current_user)]


def require_self(actor: int, claimed: int, field: str) -> None:
    if claimed != actor:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{field} must be the authenticated user ({actor})")
