"""JSON shapes of the read side's views, shared by the API's responses and what the worker pushes.

Plain dicts (datetimes left as datetimes; the API encodes them with orjson), so that a pushed tweet or
notification is byte for byte what the matching GET route answers.
"""

from __future__ import annotations

from typing import Any

from projections.model import TweetView, UserView
from schemas.events import Media


def author_json(u: UserView) -> dict[str, Any]:
    return {"user_id": str(u.user_id), "handle": u.handle, "display_name": u.display_name}


def media_json(m: Media) -> dict[str, Any]:
    return {"url": m.url, "type": m.type, "alt_text": m.alt_text, "size_bytes": m.size_bytes}


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
