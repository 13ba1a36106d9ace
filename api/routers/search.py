"""Search over tweet text: words, #hashtags, @mentions and "phrases", newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError

from api.models import Problem, TweetPage
from api.render import json_response, page_json
from api.routers.reads import Cursor, Limit, page_bounds
from api.throttle import reader
from api.wiring import Wiring, wiring
from projections.queries import Page
from projections.search import SearchQueries
from projections.search_terms import MAX_QUERY, MAX_QUERY_TERMS, BadQuery, NothingToFind, parse_query

router = APIRouter(tags=["search"])

Q = Annotated[
    str,
    Query(
        description=f"1-{MAX_QUERY} characters. Words must all appear (any case, accents ignored: `cafe` finds "
        '`café`); `#tag` and `@handle` match hashtags and mentions; `"an exact phrase"` matches those words '
        "in a row; `-word` excludes. A plain word also finds its hashtag (`chirp` finds `#chirp`). Chinese, "
        "Japanese, Korean and Thai text is matched by character pairs, so any part of a sentence is found. "
        f"Terms past the {MAX_QUERY_TERMS}th are ignored; a query with no term (only punctuation, or only "
        "exclusions) finds nothing.",
        min_length=1,
        max_length=MAX_QUERY,
        pattern=r"\S",
        examples=["#chirp", '"hello world" -spam', "東京"],
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The cursor is not one this API returned."},
    422: {
        "model": Problem,
        "description": "`q` is missing, empty or too long; `message` says which.",
    },
    503: {"model": Problem, "description": "The read side is not connected."},
}


def _search(w: Wiring) -> SearchQueries:
    if w.search is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    return w.search


@router.get(
    "/search",
    dependencies=[reader("search")],
    response_model=TweetPage,
    responses=ERRORS,
    summary="Tweets matching a query, newest first",
    description="No token needed, like the other public reads. Edited tweets are found by their current "
    "text only; deleted tweets never appear. A page can hold fewer than `limit` tweets (even none) while "
    "`next_cursor` is set: each request examines a bounded number of candidates; follow `next_cursor` until "
    "it is null to see every match.",
)
async def search(q: Q, w: Annotated[Wiring, Depends(wiring)], limit: Limit = 20, cursor: Cursor = None) -> Response:
    try:
        query = parse_query(q)
    except NothingToFind:
        return json_response(page_json(Page(tweets=[], next_before=None)))
    except BadQuery as exc:
        raise RequestValidationError([{"loc": ("query", "q"), "msg": str(exc), "type": "value_error"}]) from exc
    size, before = page_bounds(limit, cursor)
    return json_response(page_json(await _search(w).search(query, before, size)))
