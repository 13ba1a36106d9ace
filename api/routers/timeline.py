"""The home timeline (seed 001's `GET /timeline`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from api.auth import Actor, require_self
from api.models import Id, Problem, TimelineOut
from api.render import json_response, timeline_json
from api.routers.common import errors
from api.routers.reads import Cursor, Limit, page_bounds, queries
from api.wiring import Wiring, wiring
from projections.timeline import BadCursor, decode_cursor
from schemas.ids import ID_PATTERN

router = APIRouter(tags=["timeline"])


POLLING = """
**Polling** (`since`): pass the `newest_cursor` of your last answer as `since` to get only the tweets
strictly newer than it, newest first, at most `limit` (the newest ones: Twitter's and Mastodon's `since_id`).
Keep the new answer's `newest_cursor` for the next poll. If `next_cursor` is not null, more new tweets
remain between `since` and this page: ask again with `since` unchanged and `cursor=<next_cursor>`
(`since` and `cursor` together select the tweets strictly between them) until `next_cursor` is null; a
client that wants Mastodon's `min_id` order can do the same. A poll costs one Redis round trip.

For tweets pushed as they arrive, see `GET /timeline/stream` (Server-Sent Events) and the WebSocket
`/timeline/ws`.
"""

Since = Annotated[
    str | None,
    Query(
        description="A cursor (`newest_cursor` of an earlier answer): only tweets strictly newer than it.",
        pattern=ID_PATTERN,
    ),
]


@router.get(
    "/timeline",
    response_model=TimelineOut,
    responses={
        400: {"model": Problem, "description": "The cursor or `since` is not one this API returned."},
        **errors(401, 403, 422),
    },
    summary="The home timeline: your tweets and those of everyone you follow, newest first",
    description=POLLING,
)
async def home_timeline(
    user_id: Annotated[Id, Query(description="Whose timeline; must be the token's user.")],
    actor: Actor,
    w: Annotated[Wiring, Depends(wiring)],
    limit: Limit = 20,
    cursor: Cursor = None,
    since: Since = None,
) -> Response:
    require_self(actor, user_id, "user_id")
    size, before = page_bounds(limit, cursor)
    after = since_bound(since)
    q = queries(w)
    page = await (q.home(user_id, before, size) if after is None else q.home(user_id, before, size, after))
    return json_response(timeline_json(page))


def since_bound(since: str | None) -> int | None:
    """The exclusive lower bound `since` stands for (None: no bound), or 400."""
    try:
        return decode_cursor(since)
    except BadCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad since: {exc}") from exc
