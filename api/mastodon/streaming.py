"""Mastodon's streaming API on chirp's push machinery (api/push/): the user's stream as Server-Sent Events
(`GET /api/v1/streaming/user`, `/user/notification`) and over the WebSocket at `/api/v1/streaming`.

Each stream joins the hub the way chirp's own `/timeline/stream` does (api/routers/stream.py): a lease on one of
the user's `CHIRP_PUSH_MAX_STREAMS` streams across API processes (429 / close 1013 beyond), the subscription
confirmed before anything is answered, and the same session (api/push/session.py: each status once, a client
that falls behind is disconnected). chirp's push messages become Mastodon's events (projections/mastodon_wire.py):
`update` and `status.update` (a Status as a JSON string), `delete` (the bare status id), `notification`.

SSE: `event: <name>` / `data: <payload>` per event, a `:thump` comment every CHIRP_PUSH_HEARTBEAT_S.
WebSocket: the token as `?access_token=`, an `Authorization` header, or the `Sec-WebSocket-Protocol` (echoed
back); `?stream=user` subscribes at once; `{"type": "subscribe"|"unsubscribe", "stream": "user"}` messages;
every event a text frame `{"stream": ["user"], "event": "update", "payload": "<JSON string>"}`. chirp pushes only
a user's own streams: `public*`, `hashtag*`, `list` and `direct` answer an error frame `{"error", "status"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, WebSocket, status
from fastapi.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from api.headers import bearer, caller_key
from api.mastodon import scopes
from api.mastodon.errors import responses
from api.mastodon.site import base_url
from api.push.hub import PushHub, PushUnavailable
from api.push.session import HEARTBEAT, Client, stream
from api.routers.stream import SSE_HEADERS, disconnected, push_parts, run_until_gone, stream_lease
from api.throttle import enforce
from api.wiring import Wiring, wiring
from projections.mastodon_wire import mastodon_event, pushed_handles
from projections.queries import Queries
from projections.wire import tweet_json

log = logging.getLogger("chirp.push")
router = APIRouter(tags=["mastodon: streaming"])
W = Annotated[Wiring, Depends(wiring)]

# The streams chirp pushes, and the events each carries (None: every event).
STREAMS: dict[str, frozenset[str] | None] = {"user": None, "user:notification": frozenset({"notification"})}
KNOWN = ("public", "public:media", "public:local", "public:local:media", "public:remote", "public:remote:media",
         "hashtag", "hashtag:local", "list", "direct")  # fmt: skip
READ = ("read", "read:statuses", "read:notifications")
Token = Annotated[str | None, Query(description="The bearer token, for clients that cannot send headers.")]


async def stream_caller(w: Wiring, token: str | None) -> int:
    """The token's user; 401 without a valid user token, 403 without a read scope."""
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing access token")
    grant = await w.accounts.token_grant(token)
    if grant is None or grant.user_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid access token")
    if not scopes.allows(grant.scopes, READ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This action is outside the authorized scopes")
    return grant.user_id


class Relay:
    """chirp's push messages as Mastodon's (event, payload), the @mentions of each looked up once. An "edit"
    carries the new text only: the rest of the Status is read from the timeline's read side."""

    def __init__(self, w: Wiring, base: str, queries: Queries) -> None:
        self.w, self.base, self.queries = w, base, queries

    async def convert(self, msg: dict[str, Any]) -> tuple[str, str] | None:
        if msg.get("event") == "edit":
            data = msg.get("data") or {}
            view = await self.queries.tweet(int(data.get("tweet_id") or 0))
            if view is None or view.deleted:
                return None
            msg = {"event": "edit", "data": {**tweet_json(view), "content": data.get("content", view.content),
                                             "edited_at": data.get("edited_at")}}  # fmt: skip
        handles = pushed_handles(msg)
        accounts = await self.w.accounts.users_by_handle(handles) if handles else {}
        try:
            return mastodon_event(msg, self.base, accounts)
        except (KeyError, TypeError, ValueError):
            log.warning("push: a message Mastodon's stream cannot render: %r", msg)
            return None


async def events(
    hub: PushHub, queries: Queries, client: Client, relay: Relay, most: int
) -> Any:  # AsyncIterator[tuple[str, str] | None]: None is a heartbeat
    async for raw, msg in stream(hub, queries, client, None, most):
        if raw is HEARTBEAT or msg is None:
            yield None
            continue
        converted = await relay.convert(msg)
        if converted is not None:
            yield converted


def sse(name: str, payload: str) -> bytes:
    return f"event: {name}\ndata: {payload}\n\n".encode()


class MastodonEventStream(Response):
    """The SSE answer: joins the hub before it answers, then sends until the client leaves or the hub ends it."""

    media_type = "text/event-stream"

    def __init__(self, hub: PushHub, queries: Queries, relay: Relay, user: int, lease: str, only: frozenset[str]
                 | None, most: int) -> None:  # fmt: skip
        self.status_code, self.background, self.raw_headers = 200, None, list(SSE_HEADERS)
        self.hub, self.queries, self.relay, self.user, self.lease, self.only, self.most = (
            hub, queries, relay, user, lease, only, most)  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            client = await self.hub.join(self.user, self.lease)
        except PushUnavailable as exc:
            body = orjson.dumps({"error": f"streaming is unavailable now, retry ({exc})"})
            await Response(body, 503, {"Retry-After": "1"}, "application/json")(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b":)\n\n", "more_body": True})
            await run_until_gone(client, self._pump(client, send), disconnected(receive))
        finally:
            self.hub.leave(client)

    async def _pump(self, client: Client, send: Send) -> None:
        async for ev in events(self.hub, self.queries, client, self.relay, self.most):
            if ev is not None and self.only is not None and ev[0] not in self.only:
                continue
            body = b":thump\n\n" if ev is None else sse(*ev)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class EventStreamMedia(Response):
    media_type = "text/event-stream"


SSE_RESPONSES = {
    200: {"description": "An endless `text/event-stream`: `event: <name>` and `data: <payload>` per event."},
    **responses(401, 403, 429, 503),
}


async def _sse(request: Request, w: Wiring, access_token: str | None, name: str) -> Response:
    user = await stream_caller(w, bearer(request.headers.get("authorization")) or access_token)
    await enforce(request, w, "streams", caller_key(user, request))
    hub, queries = push_parts(w)
    lease = await stream_lease(hub, user)
    relay = Relay(w, base_url(request, w.settings), queries)
    return MastodonEventStream(hub, queries, relay, user, lease, STREAMS[name], w.settings.push_catch_up_max)


@router.get("/api/v1/streaming/health", response_class=PlainTextResponse, summary="`OK` while streaming works")
async def health(w: W) -> PlainTextResponse:
    if w.push is None:
        return PlainTextResponse("unavailable", status.HTTP_503_SERVICE_UNAVAILABLE)
    return PlainTextResponse("OK")


@router.get("/api/v1/streaming/user", response_class=EventStreamMedia, responses=SSE_RESPONSES,
            summary="Your home timeline's statuses and notifications, as they come (Server-Sent Events)")  # fmt: skip
async def user_stream(request: Request, w: W, access_token: Token = None) -> Response:
    return await _sse(request, w, access_token, "user")


@router.get("/api/v1/streaming/user/notification", response_class=EventStreamMedia, responses=SSE_RESPONSES,
            summary="Your notifications, as they come (Server-Sent Events)")  # fmt: skip
async def user_notification_stream(request: Request, w: W, access_token: Token = None) -> Response:
    return await _sse(request, w, access_token, "user:notification")


# The WebSocket ----------------------------------------------------------------------------------------------------


def ws_token(ws: WebSocket) -> tuple[str | None, str | None]:
    """The token, and the subprotocol to answer with when it came as the Sec-WebSocket-Protocol."""
    token = ws.query_params.get("access_token") or bearer(ws.headers.get("authorization"))
    if token:
        return token, None
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    return (offered[0], offered[0]) if offered else (None, None)


class Session:
    """One WebSocket: its subscriptions, and while any is on, one client of the hub and the task relaying it."""

    def __init__(self, ws: WebSocket, w: Wiring, user: int) -> None:
        self.ws, self.w, self.user = ws, w, user
        self.subs: set[str] = set()
        self.client: Client | None = None
        self.pump: asyncio.Task[None] | None = None
        self.sending = asyncio.Lock()
        self.relay: Relay | None = None

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.sending:
            await self.ws.send_text(orjson.dumps(frame).decode())

    async def error(self, message: str, code: int = 400) -> None:
        await self.send({"error": message, "status": code})

    async def handle(self, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self.error("Bad JSON")
            return
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            await self.error("Unknown message type")
            return
        await (self.subscribe if msg["type"] == "subscribe" else self.unsubscribe)(str(msg.get("stream") or ""))

    async def subscribe(self, name: str) -> None:
        if name not in STREAMS:
            await self.error("This stream is not available on this server" if name in KNOWN else "Unknown stream type")
            return
        if self.client is None:
            try:
                hub, queries = push_parts(self.w)
                lease = await stream_lease(hub, self.user)
                self.client = await hub.join(self.user, lease)
            except HTTPException as exc:
                await self.error(str(exc.detail), exc.status_code)
                return
            except PushUnavailable as exc:
                await self.error(f"streaming is unavailable now, retry ({exc})", 503)
                return
            self.relay = Relay(self.w, base_url(self.ws, self.w.settings), queries)
            self.pump = asyncio.create_task(self._relay(hub, queries, self.client, self.relay))
            self.client.task = self.pump
        self.subs.add(name)

    async def unsubscribe(self, name: str) -> None:
        self.subs.discard(name)
        if not self.subs:
            await self.stop()

    async def _relay(self, hub: PushHub, queries: Queries, client: Client, relay: Relay) -> None:
        async for ev in events(hub, queries, client, relay, self.w.settings.push_catch_up_max):
            if ev is None:
                continue  # no heartbeat frame: Mastodon's WebSocket has none (TCP keepalive and pings do)
            for name in sorted(self.subs):
                wanted = STREAMS[name]
                if wanted is None or ev[0] in wanted:
                    await self.send({"stream": [name], "event": ev[0], "payload": ev[1]})
        # the hub ended the client (too slow, Redis lost, shutdown): close, the client reconnects
        with contextlib.suppress(Exception):
            await self.ws.close(code=1012 if hub.closing else 1013, reason=(client.dropped or "")[:120])

    async def stop(self) -> None:
        pump, client = self.pump, self.client
        self.pump, self.client = None, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
        if client is not None and self.w.push is not None:
            self.w.push.leave(client)


async def _receive_until_gone(ws: WebSocket, handle: Callable[[str], Awaitable[None]]) -> None:
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text"):
            await handle(msg["text"])


@router.websocket("/api/v1/streaming")
async def streaming_ws(websocket: WebSocket) -> None:
    """Mastodon's multiplexed WebSocket (see the module's description)."""
    w: Wiring = websocket.app.state.wiring
    token, subprotocol = ws_token(websocket)
    try:
        user = await stream_caller(w, token)
        await enforce(websocket, w, "streams", caller_key(user, websocket))
    except HTTPException as exc:
        await websocket.close(code=1008, reason=str(exc.detail)[:120])
        return
    await websocket.accept(subprotocol=subprotocol)
    session = Session(websocket, w, user)
    try:
        first = websocket.query_params.get("stream")
        if first:
            await session.subscribe(first)
        await _receive_until_gone(websocket, session.handle)
    except Exception as exc:  # the client went away mid-send
        log.info("push: a Mastodon WebSocket ended: %s", exc)
    finally:
        await session.stop()
