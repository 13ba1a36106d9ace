"""Bearer-token authentication: the token's user is the actor of every write.

chirp's own tokens (POST /users, /tokens) may do everything; a token issued through OAuth (the Mastodon API)
may use chirp's own routes within its scopes: reads need `read`, writes `write` (403 otherwise). An
application's own token (no user) is not a user's token here."""

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
    grant = await w.accounts.token_grant(token)
    if grant is None or grant.user_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers=_UNAUTHORIZED)
    need = "read" if request.method in ("GET", "HEAD") else "write"
    if not grant.allows(need):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this token's scopes do not include {need!r}")
    return grant.user_id


Actor = Annotated[int, Depends(current_user)]


def require_self(actor: int, claimed: int, field: str) -> None:
    if claimed != actor:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{field} must be the authenticated user ({actor})")
