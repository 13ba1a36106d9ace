"""Push: the home timeline as it grows, over Server-Sent Events (`GET /timeline/stream`) and a WebSocket
(`/timeline/ws`), the way Mastodon streams. The machinery is in api/push/ (the hub, and
one client's stream session)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, WebSocket, status
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from api.headers import bearer, caller_key
from api.models import Id, Problem
from api.push.hub import PushHub, PushUnavailable
from api.push.session import HEARTBEAT, Client, sse_frame, stream
from api.routers.common import errors
from api.throttle import enforce
from api.wiring import Wiring, wiring
from projections.queries import Queries
from projections.timeline import BadCursor, decode_cursor
from schemas.ids import ID_PATTERN

log = logging.getLogger("chirp.push")

router = APIRouter(tags=["timeline"])

STREAM_DOC = """
New entries of your home timeline as they arrive, as **Server-Sent Events** (`text/event-stream`), the way
Mastodon streams. Each event is one message `{event, id, data}`:

- `event: update`, `id:` the entry's timeline cursor, `data:` the tweet exactly as `GET /timeline` renders it;
- `event: delete`, no `id:`, `data: {"tweet_id": "..."}`: a tweet you may have been shown was deleted;
- `event: notification`, `id:` the notification's cursor, `data:` the notification.

A comment line (`: heartbeat`) comes every `CHIRP_PUSH_HEARTBEAT_S` seconds (15 by default) so proxies keep
the connection open. The response starts once this API process has subscribed for you, so anything posted
afterwards reaches you.

**Authentication**: `Authorization: Bearer <token>`, or `?access_token=<token>` for browsers' `EventSource`,
which cannot set headers. `user_id` is optional; if given it must be the token's user (else 403).

**Reconnecting**: send the last `id:` you received as the `Last-Event-ID` header (browsers do this by
themselves) or as `?last_event_id=`: every timeline entry newer than it is sent first (oldest first, at most
`CHIRP_PUSH_CATCH_UP_MAX`), then live events, each once, so nothing is lost in between. Without it the
stream starts with what arrives from now on; `GET /timeline?since=` is the polling alternative.

**WebSocket**: `/timeline/ws` (not listed in this schema, as OpenAPI has no WebSockets) takes the same
token (header, or `?access_token=`), `user_id` and `?last_event_id=`, and sends each message as one JSON text
frame `{"event", "id", "data"}`, plus `{"event": "heartbeat", "id": "", "data": {}}` every heartbeat. A bad
token, user or `last_event_id` closes it with code 1008 before it opens (the handshake answers 403); if the
server cannot subscribe it closes with 1013 (try again later).

A client that falls `CHIRP_PUSH_BUFFER` messages behind is disconnected and should reconnect with its last id;
so are all streams of a process that loses its Redis connection, or that shuts down.
"""

EVENTS = ("update", "delete", "notification")  # what chirp's own streams send
WS_HEARTBEAT = orjson.dumps({"event": "heartbeat", "id": "", "data": {}})
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass events on at once
]


class StreamEvent(BaseModel):
    """One pushed message: an SSE event (`event:`, `id:`, `data:` lines) or one WebSocket text frame."""

    event: Literal["update", "delete", "notification"] = Field(examples=["update"])
    id: str = Field(description="The SSE id: a cursor (Last-Event-ID on reconnect), or empty.", examples=["djE6MQ"])
    data: dict[str, Any] = Field(description="The tweet (update), `{tweet_id}` (delete), or the notification.")


async def stream_user(w: Wiring, authorization: str | None, access_token: str | None) -> int:
    """The token's user, from the Authorization header or the `access_token` query parameter."""
    token = bearer(authorization) or (access_token or "").strip()
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", {"WWW-Authenticate": "Bearer"})
    grant = await w.accounts.token_grant(token)
    if grant is None or grant.user_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid bearer token", {"WWW-Authenticate": "Bearer"})
    if not grant.allows("read"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token's scopes do not include 'read'")
    return grant.user_id


def resume_point(query: str | None, header: str | None) -> int | None:
    """The tweet id to catch up from: `last_event_id` (must be a cursor, else 400), else the Last-Event-ID
    header (an id this API did not send is ignored: a browser would retry a 400 forever)."""
    if query is not None:
        try:
            return decode_cursor(query)
        except BadCursor as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad last_event_id: {exc}") from exc
    try:
        return decode_cursor(header)
    except BadCursor:
        log.info("push: ignoring a Last-Event-ID this API did not send: %r", header)
        return None


def push_parts(w: Wiring) -> tuple[PushHub, Queries]:
    if w.push is None or w.queries is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "push is not available in this process")
    return w.push, w.queries


class EventStreamMedia(Response):
    """For the schema: the route's media type (FastAPI reads it from `response_class`)."""

    media_type = "text/event-stream"


class EventStream(Response):
    """The SSE response: subscribes before it answers, then sends until the client leaves or the hub ends it."""

    media_type = "text/event-stream"

    def __init__(self, hub: PushHub, queries: Queries, user_id: int, after: int | None, most: int, lease: str) -> None:
        self.status_code = 200
        self.background = None
        self.raw_headers = list(SSE_HEADERS)
        self.hub, self.queries, self.user_id, self.after, self.most = hub, queries, user_id, after, most
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            client = await self.hub.join(self.user_id, self.lease)
        except PushUnavailable as exc:
            body = orjson.dumps({"detail": f"push is unavailable now, retry ({exc})"})
            await Response(body, 503, {"Retry-After": "1"}, "application/json")(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b": connected\n\n", "more_body": True})
            await run_until_gone(client, self._pump(client, send), disconnected(receive))
            if client.dropped is not None:
                with contextlib.suppress(Exception):  # a client too slow to read may not take even this
                    async with asyncio.timeout(1):
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.hub.leave(client)

    async def _pump(self, client: Client, send: Send) -> None:
        async for raw, msg in stream(self.hub, self.queries, client, self.after, self.most):
            if msg is not None and msg.get("event") not in EVENTS:
                continue  # an "edit" is for Mastodon's streams (api/mastodon/streaming.py)
            body = b": heartbeat\n\n" if raw is HEARTBEAT or msg is None else sse_frame(msg)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        reason = (client.dropped or "closed").replace("\n", " ")
        await send({"type": "http.response.body", "body": f": {reason}\n\n".encode(), "more_body": False})


@router.get(
    "/timeline/stream",
    response_class=EventStreamMedia,
    responses={
        200: {
            "model": StreamEvent,
            "description": "An endless `text/event-stream`; each event's fields are those of this model.",
        },
        400: {"model": Problem, "description": "`last_event_id` is not an id this API sent."},
        **errors(401),
        403: {**errors(403)[403], "description": "`user_id` is not the token's user."},
        422: errors(422)[422],
        503: {**errors(503)[503], "description": "This process cannot subscribe to Redis now; retry."},
    },
    summary="Your home timeline pushed as it grows (Server-Sent Events; WebSocket: /timeline/ws)",
    description=STREAM_DOC,
)
async def timeline_stream(
    request: Request,
    w: Annotated[Wiring, Depends(wiring)],
    user_id: Annotated[Id | None, Query(description="Optional; must be the token's user.")] = None,
    access_token: Annotated[
        str | None, Query(description="The bearer token, for clients that cannot send headers.")
    ] = None,
    last_event_id: Annotated[
        str | None, Query(description="Resume after this id (instead of the header).", pattern=ID_PATTERN)
    ] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", description="The last `id:` received; what was missed comes first.")
    ] = None,
) -> Response:
    user = await stream_user(w, request.headers.get("authorization"), access_token)
    await enforce(request, w, "streams", caller_key(user, request))
    if user_id is not None and user_id != user:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"user_id must be the authenticated user ({user})")
    after = resume_point(last_event_id, last_event_id_header)
    hub, queries = push_parts(w)
    lease = await stream_lease(hub, user)
    return EventStream(hub, queries, user, after, w.settings.push_catch_up_max, lease)


async def stream_lease(hub: PushHub, user: int) -> str:
    """One of the user's streams (counted across API processes), or 429."""
    lease = await hub.claim(user)
    if lease is None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, f"{hub.max_streams} streams are open for this user already; "
            "close one", headers={"Retry-After": "5"},
        )  # fmt: skip
    return lease


async def disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_until_gone(client: Client, pump: Any, watch: Any) -> None:
    """Runs the sender until it ends, the client leaves (`watch` returns), or the hub cancels the sender
    (the client fell behind)."""
    sender: asyncio.Task[None] = asyncio.create_task(pump)
    watcher: asyncio.Task[None] = asyncio.create_task(watch)
    client.task = sender
    try:
        await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (sender, watcher):
            t.cancel()
        for t in (sender, watcher):
            with contextlib.suppress(BaseException):
                await t


@router.websocket("/timeline/ws")
async def timeline_ws(websocket: WebSocket) -> None:
    """The same stream as GET /timeline/stream, one JSON text frame per message (see its description)."""
    w: Wiring = websocket.app.state.wiring
    q = websocket.query_params
    try:
        user = await stream_user(w, websocket.headers.get("authorization"), q.get("access_token"))
        await enforce(websocket, w, "streams", caller_key(user, websocket))
        if q.get("user_id") is not None and q.get("user_id") != str(user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"user_id must be the authenticated user ({user})")
        after = resume_point(q.get("last_event_id"), websocket.headers.get("last-event-id"))
        hub, queries = push_parts(w)
        lease = await stream_lease(hub, user)
    except HTTPException as exc:
        code = {503: 1013, 429: 1013}.get(exc.status_code, 1008)
        await websocket.close(code=code, reason=str(exc.detail)[:120])
        return
    try:
        client = await hub.join(user, lease)
    except PushUnavailable as exc:
        await websocket.close(code=1013, reason=str(exc)[:120])
        return
    try:
        await websocket.accept()

        async def pump() -> None:
            async for raw, msg in stream(hub, queries, client, after, w.settings.push_catch_up_max):
                if msg is not None and msg.get("event") not in EVENTS:
                    continue
                await websocket.send_text((WS_HEARTBEAT if raw is HEARTBEAT else raw).decode())
            await websocket.close(code=1012 if hub.closing else 1013, reason=(client.dropped or "")[:120])

        async def watch() -> None:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        await run_until_gone(client, pump(), watch())
    finally:
        hub.leave(client)
