"""Read your own writes, on demand: every write's answer says where its events landed in the log
(`X-Chirp-Position`), and a read that names such a position (the same header, or `?position=`) waits, at most
CHIRP_READ_WAIT_MS, until the worker has applied it; `X-Chirp-Caught-Up` says whether it had. The Mastodon home
timeline waits for its user's own last write without being asked (`settle`), as Mastodon's clients expect.

The event log the routes append through (`PositionedLog`) notes each position for the answer and as the actor's
last write (projections/stores/redis_positions.py); this middleware puts them on the answer.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.aftermath import after_append
from api.mastodon.errors import is_mastodon
from infra.eventlog import Position
from projections.positions import BadPosition, decode, encode, progress_ends, wait_applied
from projections.stores.redis import Progress
from projections.stores.redis_positions import RedisWriteMarks
from schemas.events import Event

HEADER = "X-Chirp-Position"
CAUGHT_UP = "X-Chirp-Caught-Up"
QUERY = "position"
READS = frozenset({"GET", "HEAD"})
_written: ContextVar[list[Position] | None] = ContextVar("chirp_written", default=None)

DOC = (
    f"\n\n**Read your own writes**: the answer's `{HEADER}` header says where the write's events landed in the "
    f"log. Send it back on a read (as the `{HEADER}` header, or `?{QUERY}=`) and the read waits, at most "
    f"CHIRP_READ_WAIT_MS, until what you wrote is in the read models; `{CAUGHT_UP}: true|false` says whether it was."
)


class EventLog(Protocol):
    async def append(self, event: Event) -> Position: ...


class PositionedLog:
    """An event log that notes where each append landed: for the answer's header, and as the actor's last write."""

    def __init__(self, log: EventLog, marks: RedisWriteMarks | None) -> None:
        self.log = log
        self.marks = marks

    async def append(self, event: Event) -> Position:
        position = await self.log.append(event)
        found = _written.get()
        if found is not None:
            found.append(position)
        if self.marks is not None:
            await after_append("last-write mark", self.marks.remember(event.meta.actor_id, [position]), None)
        return position


async def settle(marks: RedisWriteMarks | None, progress: Progress | None, user_id: int, wait_s: float) -> bool:
    """Waits (at most `wait_s`) until the worker has applied the user's recent writes; whether it had."""
    if marks is None or progress is None:
        return True
    try:
        wanted = await marks.of(user_id)
    except Exception:  # Redis away: the read goes on without waiting (its own store calls will say so)
        return True
    return await wait_applied(progress, wanted, wait_s)


class WritePositions:
    """ASGI middleware: the `X-Chirp-Position` of a write's answer (inside Idempotency, which keeps it for
    replays)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        written: list[Position] = []
        token = _written.set(written)

        async def with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and written:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.lower().encode()]
                message = {**message, "headers": [*headers, (HEADER.lower().encode(), encode(written).encode())]}
            await send(message)

        try:
            await self.app(scope, receive, with_position)
        finally:
            _written.reset(token)


class ReadAfter:
    """ASGI middleware: a read naming a position waits for it (outside the timeline's fast lane, which answers
    GET /timeline itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READS:
            await self.app(scope, receive, send)
            return
        asked = Headers(scope=scope).get(HEADER) or QueryParams(scope.get("query_string", b"")).get(QUERY)
        w: Any = getattr(scope["app"].state, "wiring", None)
        progress = getattr(w, "applied", None)
        if not asked or progress is None:
            await self.app(scope, receive, send)
            return
        try:
            wanted = progress_ends(decode(asked))
        except BadPosition as exc:
            await _bad(scope, send, f"bad {HEADER}: {exc}")
            return
        caught_up = await wait_applied(progress, wanted, w.settings.read_wait_ms / 1000)
        flag = (CAUGHT_UP.lower().encode(), b"true" if caught_up else b"false")

        async def with_flag(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), flag]}
            await send(message)

        await self.app(scope, receive, with_flag)


async def _bad(scope: Scope, send: Send, message: str) -> None:
    body = orjson.dumps({"error": message} if is_mastodon(scope["path"]) else {"detail": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Says in the OpenAPI schema what this middleware serves: the header on every write's answer, and on every
    read the header (or query parameter) it takes, in the description only, as the Idempotency-Key is (a
    schema-driven client making positions up would only wait for nothing)."""
    header = {
        "schema": {"type": "string"},
        "description": "Where the write's events landed in the log (`<topic>:<partition>:<offset>`, comma "
        "separated); send it back on a read to read your own writes.",
    }
    for operations in schema.get("paths", {}).values():
        for method, op in operations.items():
            if method.upper() in READS:
                op["description"] = op.get("description", op.get("summary", "")) + DOC
            elif method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                for code, answer in op.get("responses", {}).items():
                    if str(code).startswith("2"):
                        answer.setdefault("headers", {})[HEADER] = header
    return schema
