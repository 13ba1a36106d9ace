"""A fast lane for the hottest route, `GET /timeline`, past FastAPI's routing, dependency solving and
request objects (most of a page's CPU time in the API process once Redis answers in one round trip).

It answers only requests it can answer exactly as the route would: well-formed parameters, each given
once, a bearer token that maps to `user_id`, a cursor this API handed out. Anything else (a bad or
missing token, someone else's timeline, a malformed parameter, an unknown one) goes to the FastAPI
route unchanged, which gives the documented error. The route stays the one documented in OpenAPI.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from api.headers import bearer
from api.render import json_response, timeline_json
from api.routers import timeline
from api.routers.reads import MAX_LIMIT
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
        if grant is None or grant.user_id != user_id or (grant.scopes is not None and "read" not in grant.scopes):
            return False  # the route answers 401 or 403
        scope["route"] = ROUTE  # what routing would have set (metrics label requests by it)
        q = w.queries
        page = await (q.home(user_id, before, limit) if after is None else q.home(user_id, before, limit, after))
        response = json_response(timeline_json(page))
        await response(scope, receive, send)
        return True
