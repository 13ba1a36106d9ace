"""Fast lanes for the hottest routes, `GET /timeline` and `POST /tweets`, past FastAPI's routing, dependency
solving and request objects (most of a page's CPU time in the API process once Redis answers in one round
trip; a third of a post's).

A lane answers only requests it can answer exactly as the route would: for the timeline, well-formed
parameters, each given once, a bearer token that maps to `user_id`, a cursor this API handed out; for a post, a
JSON body the route's model accepts and a token allowed to write, then the route's own checks (rate limits)
and function. Anything else (a bad or missing token, a malformed body or parameter, an unknown one) goes to the
FastAPI route unchanged, which gives the documented error. The routes stay the ones documented in OpenAPI.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.headers import bearer, caller_key
from api.idempotency import identities
from api.limits import buffered
from api.models import TweetCreate
from api.render import json_response, timeline_json
from api.routers import timeline, tweets
from api.routers.reads import MAX_LIMIT
from api.throttle import enforce
from api.wiring import Wiring
from projections.timeline import BadCursor, decode_cursor
from schemas.ids import ID_PATTERN, parse_id

PATH = "/timeline"
ROUTE = next(r for r in timeline.router.routes if getattr(r, "path", None) == PATH)
_ID = re.compile(ID_PATTERN.encode())  # what the route's parameters accept, no more
_VALUE = {
    b"user_id": _ID,
    b"limit": re.compile(rb"[1-9][0-9]{0,8}"),
    b"cursor": _ID,
    b"since": _ID,
}


def timeline_params(query: bytes) -> tuple[int, int, str | None] | None:
    """(user_id, limit, cursor) of a plain query string, or None if the route must judge it."""
    params = lane_params(query)
    return None if params is None else params[:3]


def lane_params(query: bytes) -> tuple[int, int, str | None, str | None] | None:
    """(user_id, limit, cursor, since) of a plain query string, or None if the route must judge it."""
    found: dict[bytes, bytes] = {}
    for part in query.split(b"&") if query else ():
        name, eq, value = part.partition(b"=")
        pattern = _VALUE.get(name)
        if not eq or pattern is None or name in found or not pattern.fullmatch(value):
            return None
        found[name] = value
    if b"user_id" not in found:
        return None
    try:
        user_id = parse_id(found[b"user_id"].decode())
    except ValueError:
        return None
    cursor, since = found.get(b"cursor"), found.get(b"since")
    limit = min(int(found.get(b"limit", b"20")), MAX_LIMIT)
    return user_id, limit, None if cursor is None else cursor.decode(), None if since is None else since.decode()


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token as `api.auth.current_user` reads it (first Authorization header, latin-1), or None."""
    for name, value in headers:
        if name == b"authorization":
            return bearer(value.decode("latin-1"))
    return None


class TimelineFastLane:
    """ASGI middleware, inside the metrics and error middleware: an exception here is a 500 as in the route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        if not await self._serve(scope, receive, send):
            await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answers the request and returns True, or returns False having sent nothing."""
        params = lane_params(scope["query_string"])
        token = bearer_token(scope["headers"])
        w: Wiring | None = getattr(scope["app"].state, "wiring", None)
        if params is None or token is None or w is None or w.queries is None:
            return False
        user_id, limit, cursor, since = params
        try:
            before, after = decode_cursor(cursor), decode_cursor(since)
        except BadCursor:
            return False
        grant = await w.accounts.token_grant(token)
        if grant is None or grant.user_id != user_id or not grant.allows("read"):
            return False  # the route answers 401 or 403
        scope["route"] = ROUTE  # what routing would have set (metrics label requests by it)
        q = w.queries
        page = await (q.home(user_id, before, limit) if after is None else q.home(user_id, before, limit, after))
        response = json_response(timeline_json(page))
        await response(scope, receive, send)
        return True


POST_PATH = "/tweets"
POST_ROUTE = next(
    r for r in tweets.router.routes if getattr(r, "path", None) == POST_PATH and "POST" in getattr(r, "methods", ())
)


def json_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the first Content-Type is JSON as the route reads it (anything else: the route judges)."""
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


class PostFastLane:
    """ASGI middleware, innermost of the app's own (inside WritePositions, Idempotency, BodySizeLimit and
    RateLimitHeaders, which apply as to the route): `POST /tweets` run by the route's own function. Errors it
    raises are rendered by the app's exception handlers, as the route's are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._rendered: ASGIApp | None = None  # _post inside the app's exception handlers, built on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != POST_PATH or scope["method"] != "POST"
                or scope.get("root_path") or not json_body(scope["headers"])):  # fmt: skip
            await self.app(scope, receive, send)
            return
        body, receive = await buffered(scope, receive)  # whichever way it goes, the body is read once
        token = bearer_token(scope["headers"])
        w: Wiring | None = getattr(scope["app"].state, "wiring", None)
        tweet = _tweet(body)
        if tweet is None or token is None or w is None:
            await self.app(scope, receive, send)
            return
        grant = await w.accounts.token_grant(token)
        if grant is None or grant.user_id is None or not grant.allows("write"):
            await self.app(scope, receive, send)  # the route answers 401 or 403
            return
        scope["route"] = POST_ROUTE  # what routing would have set (metrics label requests by it)
        scope["chirp.post"] = (w, grant.user_id, tweet)
        if self._rendered is None:
            self._rendered = ExceptionMiddleware(self._post, handlers=scope["app"].exception_handlers)
        await self._rendered(scope, receive, send)

    @staticmethod
    async def _post(scope: Scope, receive: Receive, send: Send) -> None:
        w, actor, tweet = scope.pop("chirp.post")
        request = Request(scope, receive)
        for rule in tweets.POST_RULES:
            await enforce(request, w, rule, caller_key(actor, request))
        response = await tweets.post_tweet(tweet, actor, w, await identities(request))
        await response(scope, receive, send)


def _tweet(body: bytes) -> TweetCreate | None:
    """The body as the route's model, or None when the route must judge it (not JSON, or not valid)."""
    try:
        data: Any = orjson.loads(body)
        return TweetCreate.model_validate(data)
    except (orjson.JSONDecodeError, ValidationError):
        return None
