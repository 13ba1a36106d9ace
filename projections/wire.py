"""JSON shapes the API and the worker both write: a tweet as `GET /timeline` renders it (the API's pages,
and the worker's push "update" messages, which must be the same object), and the push messages built
from it. Plain dicts for orjson; api/render.py re-exports the tweet functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.model import TweetView, UserView
from projections.push import message
from projections.timeline import encode_cursor
from schemas.events import Media

# What an "update" message ends with before the worker's fan-out script fills the author in: the
# author's handle and display name live in Redis (the user hash), so the script appends them there.
AUTHOR_TAIL = b'"author":null}}'


def author_json(u: UserView) -> dict[str, Any]:
    return {"user_id": str(u.user_id), "handle": u.handle, "display_name": u.display_name}


_media_base = ""  # CHIRP_MEDIA_BASE_URL (or the bucket's URL): one per process, set where the process is wired


def set_media_base(base: str) -> None:
    """Called once by `create_app` and the worker's wiring, so pages and pushes build the same URLs."""
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
    """A `TweetOut`, field for field and in its order (`author` last: see AUTHOR_TAIL)."""
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


def update_message(v: TweetView) -> bytes:
    """The "update" push message of a home-timeline entry: id = its timeline cursor, data = the tweet."""
    return message("update", encode_cursor(v.tweet_id), tweet_json(v))


def update_head(v: TweetView) -> bytes:
    """An "update" message of a tweet without its author, cut just before the author's value: the fan-out
    script appends `{"user_id":…,"handle":…,"display_name":…}}}` (or `null}}`) from the user hash."""
    raw = update_message(TweetView(v.tweet_id, v.author_id, v.content, v.created_at, v.reply_to, v.edited_at,
                                   v.media, like_count=v.like_count, reply_count=v.reply_count))  # fmt: skip
    assert raw.endswith(AUTHOR_TAIL)
    return raw[: -len(b"null}}")]


def edit_head(tweet_id: int, content: str, edited_at: datetime) -> bytes:
    """An "edit" message (the tweet's new text) cut before its author, which the push script appends from the
    user hash, as for `update_head`. chirp's own streams leave it out; Mastodon's send it as `status.update`."""
    raw = message("edit", "", {"tweet_id": str(tweet_id), "content": content, "edited_at": edited_at, "author": None})
    assert raw.endswith(AUTHOR_TAIL)
    return raw[: -len(b"null}}")]


def delete_message(tweet_id: int) -> bytes:
    return message("delete", "", {"tweet_id": str(tweet_id)})
