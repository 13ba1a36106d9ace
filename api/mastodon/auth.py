"""Who calls a Mastodon route, and with which scopes: `Depends(scoped("read:accounts"))` answers 401 without
a valid token, 403 when the token holds none of the named scopes (Mastodon's per-route `doorkeeper_authorize!`),
and 422 when the route acts for a user and the token is an application's own (client_credentials).
`limited(...)` counts the caller against chirp's rate limits, the same rules as chirp's own routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from api.headers import bearer, caller_key
from api.mastodon import scopes
from api.throttle import THROTTLED, enforce
from api.wiring import Wiring, wiring
from infra.accounts import Grant

UNAUTHORIZED = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class Caller:
    token: str
    grant: Grant

    @property
    def user_id(self) -> int:
        assert self.grant.user_id is not None  # scoped(user=True) checked it
        return self.grant.user_id

    @property
    def scopes(self) -> frozenset[str] | None:
        return self.grant.scopes


async def caller(request: Request, w: Wiring) -> Caller | None:
    """The token's caller, or None without one; 401 for a token that is not (or no longer) valid."""
    token = bearer(request.headers.get("authorization"))
    if token is None:
        return None
    grant = await w.accounts.token_grant(token)
    if grant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "The access token is invalid", headers=UNAUTHORIZED)
    request.state.caller = Caller(token, grant)
    return request.state.caller  # type: ignore[no-any-return]


def scoped(*any_of: str, user: bool = True) -> Any:
    """A dependency giving the Caller of a route that takes any one of `any_of`."""

    async def check(request: Request, w: Annotated[Wiring, Depends(wiring)]) -> Caller:
        found = await caller(request, w)
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "The access token is invalid", headers=UNAUTHORIZED)
        if not scopes.allows(found.grant.scopes, any_of):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "This action is outside the authorized scopes")
        if user and found.grant.user_id is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "This method requires an authenticated user")
        return found

    return Depends(check)


def limited(*rules: str, per_user: bool = True) -> Any:
    """A dependency counting the request against chirp's rate-limit `rules`: per user when a token names one,
    else per client address. The standing goes out as
    `X-RateLimit-*` headers (api/throttle.py)."""

    async def check(request: Request, w: Annotated[Wiring, Depends(wiring)]) -> None:
        if w.rate_limits is None or w.rate_limits.exempt(request):
            return
        found: Caller | None = getattr(request.state, "caller", None) if per_user else None
        if per_user and found is None:
            found = await caller(request, w)
        user = found.grant.user_id if found is not None else None
        for rule in rules:
            await enforce(request, w, rule, caller_key(user, request))

    setattr(check, THROTTLED, True)
    return Depends(check)


def scoped_if_token(*any_of: str) -> Any:
    """A dependency for a route open to everyone that checks the scopes of a token when one comes (Mastodon's
    `authorize_if_got_token!`): 401 for a bad token, 403 for one without any of `any_of`; the Caller or None."""

    async def check(request: Request, w: Annotated[Wiring, Depends(wiring)]) -> Caller | None:
        found = await caller(request, w)
        if found is not None and not scopes.allows(found.grant.scopes, any_of):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "This action is outside the authorized scopes")
        return found

    return Depends(check)
