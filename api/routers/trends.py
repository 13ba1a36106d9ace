"""Trending hashtags over a sliding window (the trends read model, projections/stores/redis_trends.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from api.models import Problem, TrendsOut
from api.render import json_response
from api.routers.common import errors
from api.throttle import reader
from api.wiring import Wiring, wiring

router = APIRouter(tags=["trends"])
W = Annotated[Wiring, Depends(wiring)]
MAX_TRENDS = 50
Window = Annotated[
    Literal["1h", "1d"], Query(description="`1h`: the last hour (5-minute buckets); `1d`: the last day (hours).")
]
TrendsLimit = Annotated[int, Query(ge=1, le=MAX_TRENDS, description=f"How many trends, 1-{MAX_TRENDS}.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    **errors(422),
    503: {"model": Problem, "description": "The read side is not connected."},
}


@router.get("/trends", dependencies=[reader()], response_model=TrendsOut, responses=ERRORS, summary="Trending hashtags")
async def trends(w: W, window: Window = "1h", limit: TrendsLimit = 10) -> Response:
    """The hashtags most tweeted in the window, counted by the tweets' own time; deleted tweets do not
    count and an edit counts the tags of its new text. No token needed, like the other public reads."""
    if w.trends is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    now = datetime.now(UTC)
    top = await w.trends.top(window, now, limit)
    body = {
        "window": window,
        "as_of": now,
        "trends": [
            {"hashtag": t.tag, "name": f"#{t.display}", "tweets": t.tweets, "accounts": t.accounts} for t in top
        ],
    }
    return json_response(body)
