"""The rate-limit dependencies a route declares (`per_user("posts")`, `per_address("register")`, `reader()`),
so that each route's limits sit beside its declaration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection
from starlette.types import Scope

from api.auth import current_user
from api.headers import SetResponseHeaders, bearer, caller_key
from api.ratelimit import Verdict
from api.routers.common import ERRORS
from api.wiring import Wiring, wiring


async def enforce(request: HTTPConnection, w: Wiring, rule: str, who: str) -> None:
    """Counts the request against `rule` for `who`: 429 when over; else the standing is kept for
    `RateLimitHeaders` to put on the answer (the rule closest to its limit speaks)."""
    limits = w.rate_limits
    if limits is None or limits.exempt(request):
        return
    verdict = await limits.hit(rule, who)
    if verdict is None:
        return
    if not verdict.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit exceeded ({limits.rules[rule]}); retry in {max(verdict.reset_s, 1)} s",
            headers=verdict.headers(),
        )
    shown = getattr(request.state, "rate_limit", None)
    if shown is None or verdict.remaining < shown.remaining:
        request.state.rate_limit = verdict


def per_user(*rules: str) -> Any:
    """A dependency counting the authenticated caller's request against each rule (all must allow it)."""

    async def check(
        request: Request, actor: Annotated[int, Depends(current_user)],
        w: Annotated[Wiring, Depends(wiring)],
    ) -> None:  # fmt: skip
        for rule in rules:
            await enforce(request, w, rule, caller_key(actor, request))

    return _mark(check)


def per_address(rule: str) -> Any:
    """A dependency counting the request against `rule` for the client's address."""

    async def check(request: Request, w: Annotated[Wiring, Depends(wiring)]) -> None:
        await enforce(request, w, rule, caller_key(None, request))

    return _mark(check)


async def _optional_user(request: Request, w: Wiring) -> int | None:
    token = bearer(request.headers.get("authorization"))
    return None if token is None else await w.accounts.user_for_token(token)


def reader(rule: str | None = None) -> Any:
    """A read open to everyone: counted per address when no valid token comes with it (`anonymous`), and
    against `rule` too (per user, or per address when anonymous) when one is named."""

    async def check(request: Request, w: Annotated[Wiring, Depends(wiring)]) -> None:
        if w.rate_limits is None or w.rate_limits.exempt(request):
            return
        user = await _optional_user(request, w)
        who = caller_key(user, request)
        if user is None:
            await enforce(request, w, "anonymous", who)
        if rule is not None:
            await enforce(request, w, rule, who)

    return _mark(check)


THROTTLED = "chirp_throttled"


def _mark(check: Any) -> Any:
    setattr(check, THROTTLED, True)
    return Depends(check)


def document_limits(app: FastAPI) -> None:
    """Adds the 429 answer to the schema of every route guarded by one of these dependencies."""
    for route in app.routes:
        if isinstance(route, APIRoute) and any(getattr(d.dependency, THROTTLED, False) for d in route.dependencies):
            route.responses.setdefault(429, ERRORS[429])


class RateLimitHeaders(SetResponseHeaders):
    """Puts the standing a limit dependency recorded on the response, whatever kind of response the route
    returned (FastAPI drops a dependency's headers when a route returns its own `Response`)."""

    def headers_for(self, scope: Scope, status: int) -> dict[str, str] | None:
        verdict: Verdict | None = scope.get("state", {}).get("rate_limit")
        return verdict.headers() if verdict is not None else None
