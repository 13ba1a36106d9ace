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

from projections.model import TweetView, UserView
from projections.queries import Page
from projections.timeline import encode_cursor
from schemas.events import Media, TweetPosted

# "Z" for UTC, as pydantic writes it; naive and other offsets come out alike in both.
_OPTIONS = orjson.OPT_UTC_Z


def json_response(body: dict[str, Any], status_code: int = 200) -> Response:
    return Response(orjson.dumps(body, option=_OPTIONS), status_code=status_code, media_type="application/json")


def author_json(u: UserView) -> dict[str, Any]:
    return {"user_id": str(u.user_id), "handle": u.handle, "display_name": u.display_name}


_media_base = ""  # CHIRP_MEDIA_BASE_URL (or the bucket's URL): one per process, set by create_app


def set_media_base(base: str) -> None:
    global _media_base
    _media_base = base


def media_base() -> str:
    return _media_base


def media_json(m: Media) -> dict[str, Any]:
    """An upload's URL is built now from the configured base (a CDN move needs no replay); an external
    URL is served as given. Never a URL of chirp's: the API does not carry media bytes."""
    url = _media_base + m.key if m.key and _media_base else m.url
    return {"url": url, "type": m.type, "alt_text": m.alt_text, "size_bytes": m.size_bytes}


def tweet_json(v: TweetView) -> dict[str, Any]:
    """A `TweetOut`, field for field and in its order."""
    return {
        "tweet_id": str(v.tweet_id),
        "user_id": str(v.author_id),
        "content": v.content,
        "created_at": v.created_at,
        "reply_to": None if v.reply_to is None else str(v.reply_to),
        "edited_at": v.edited_at,
        "like_count": v.like_count,
        "reply_count": v.reply_count,
        "media": [media_json(m) for m in v.media],
        "author": author_json(v.author) if v.author else None,
    }


def page_json(page: Page) -> dict[str, Any]:
    """A `TweetPage`: the tweets and the cursor of the next (older) page."""
    cursor = encode_cursor(page.next_before) if page.next_before else None
    return {"tweets": [tweet_json(v) for v in page.tweets], "next_cursor": cursor}


def timeline_json(page: Page) -> dict[str, Any]:
    """A `TimelineOut`: a page plus whether this read rebuilt the timeline."""
    return {**page_json(page), "status": "rebuilt" if page.rebuilt else "ready"}


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
