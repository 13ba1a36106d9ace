"""Notifications: the feed of mentions, replies, likes and follows, its unread count and the read marker."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError

from api.aftermath import after_append
from api.auth import Actor, require_self
from api.idempotency import Ids
from api.models import Id, MarkedRead, MarkRead, NotificationPage, Problem, UnreadCount
from api.render import json_response
from api.routers.common import errors
from api.routers.reads import Cursor, Limit, page_bounds, queries
from api.throttle import per_user
from api.wiring import Wiring, wiring
from projections.notifications import KINDS, NotificationFeed, now_id
from projections.timeline import encode_cursor
from schemas.events import NotificationsRead

router = APIRouter(tags=["notifications"])
W = Annotated[Wiring, Depends(wiring)]
UserId = Annotated[Id | None, Query(description="Optional; if given, must be the token's user.")]
Kind = Literal["mention", "reply", "like", "follow"]  # projections' KINDS, as a type the schema can list
Types = Annotated[
    list[Kind] | None, Query(description=f"Only these kinds ({', '.join(KINDS)}); repeat the parameter for several.")
]
ExcludeTypes = Annotated[list[Kind] | None, Query(description="Leave these kinds out.")]
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The cursor is not one this API returned."},
    **errors(401, 403, 422),
    503: {"model": Problem, "description": "The read side is not connected."},
}


def feed(w: Wiring) -> NotificationFeed:
    if w.notifications is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "notifications are not connected")
    return NotificationFeed(w.notifications, queries(w), w.read_marks)


def _kinds(types: list[Kind] | None, exclude: list[Kind] | None) -> frozenset[str] | None:
    for name, given in (("types", types), ("exclude_types", exclude)):
        unknown = sorted(set(given or ()) - set(KINDS))
        if unknown:
            msg = f"unknown notification type {', '.join(unknown)}; known: {', '.join(KINDS)}"
            raise RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": msg}])
    if types is None and not exclude:
        return None
    return frozenset(types or KINDS) - frozenset(exclude or ())


@router.get(
    "/notifications",
    response_model=NotificationPage,
    responses=READ_ERRORS,
    summary="Your notifications, newest first: mentions, replies, likes of your tweets, new followers",
)
async def list_notifications(
    actor: Actor,
    w: W,
    limit: Limit = 20,
    cursor: Cursor = None,
    user_id: UserId = None,
    types: Types = None,
    exclude_types: ExcludeTypes = None,
) -> Response:
    if user_id is not None:
        require_self(actor, user_id, "user_id")
    size, before = page_bounds(limit, cursor)
    page = await feed(w).page(actor, before, size, _kinds(types, exclude_types))
    return json_response(
        {
            "notifications": page.items,
            "next_cursor": encode_cursor(page.next_before) if page.next_before else None,
            "unread_count": page.unread_count,
        }
    )


@router.get(
    "/notifications/unread_count",
    response_model=UnreadCount,
    responses=READ_ERRORS,
    summary="How many notifications are newer than your read marker (counted up to 1000)",
)
async def unread_count(actor: Actor, w: W, user_id: UserId = None) -> UnreadCount:
    if user_id is not None:
        require_self(actor, user_id, "user_id")
    return UnreadCount(unread_count=await feed(w).unread_count(actor))


@router.post(
    "/notifications/read",
    dependencies=[per_user("writes")],
    response_model=MarkedRead,
    responses={**errors(401, 413, 422, 503)},
    summary="Mark notifications read up to an id (default: all of them); the marker only moves forward",
)
async def mark_read(
    actor: Actor,
    w: W,
    ids: Ids,
    body: Annotated[MarkRead | None, Body(description="Optional; `null` or none: all.")] = None,
) -> MarkedRead:
    """Appends a NotificationsRead event (the marker is rebuilt from the log); answers once Kafka has it.
    A marker later than now is taken as now, so that future notifications still arrive unread."""
    now = now_id(time.time_ns() // 1_000_000)
    up_to = min(body.up_to, now) if body is not None and body.up_to is not None else now
    await w.events.append(NotificationsRead(ids.meta(actor), actor, up_to))
    f = feed(w)
    if w.read_marks is not None:  # read-your-writes until the worker has projected the event
        await after_append("read marker", w.read_marks.set(actor, up_to), None)
    marker = max(up_to, await after_append("read marker lookup", f.marker(actor), up_to))
    return MarkedRead(up_to=str(marker), unread_count=await f.unread_count(actor, marker))
