"""JSON bodies of the hot responses, built straight from the read side's views and encoded by orjson.

FastAPI would build a pydantic model per tweet, validate it again against `response_model` and
then serialize it: three passes over every field, most of a timeline request's CPU time. The routes
return these bytes instead and keep `response_model=` for the OpenAPI schema; a unit test checks
that each body validates against that model and serializes to the same bytes pydantic would.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

from projections.queries import Page
from projections.timeline import encode_cursor
from projections.wire import author_json, media_base, media_json, set_media_base, tweet_json
from schemas.events import TweetPosted

__all__ = [
    "author_json", "json_response", "media_base", "media_json", "page_json", "set_media_base", "timeline_json",
    "tweet_created_json", "tweet_json",
]  # fmt: skip

# "Z" for UTC, as pydantic writes it; naive and other offsets come out alike in both.
_OPTIONS = orjson.OPT_UTC_Z


def json_response(body: dict[str, Any], status_code: int = 200) -> Response:
    return Response(orjson.dumps(body, option=_OPTIONS), status_code=status_code, media_type="application/json")


def page_json(page: Page) -> dict[str, Any]:
    """A `TweetPage`: the tweets and the cursor of the next (older) page."""
    cursor = encode_cursor(page.next_before) if page.next_before else None
    return {"tweets": [tweet_json(v) for v in page.tweets], "next_cursor": cursor}


def timeline_json(page: Page) -> dict[str, Any]:
    """A `TimelineOut`: a page, whether this read rebuilt the timeline, and the cursor to poll from next
    (the newest tweet shown; on an empty page the `since` asked for, or null)."""
    newest = page.tweets[0].tweet_id if page.tweets else page.after
    return {
        **page_json(page),
        "status": "rebuilt" if page.rebuilt else "ready",
        "newest_cursor": encode_cursor(newest) if newest else None,
    }


def tweet_created_json(e: TweetPosted) -> dict[str, Any]:
    """A `TweetCreated`: the accepted post as the event has it."""
    return {
        "tweet_id": str(e.tweet_id),
        "user_id": str(e.author_id),
        "content": e.content,
        "reply_to": None if e.reply_to is None else str(e.reply_to),
        "media": [media_json(m) for m in e.media],
        "created_at": e.meta.occurred_at,
    }
