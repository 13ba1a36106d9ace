"""Helpers shared by read routes: paging parameters and view-to-response mapping."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, status

from api.models import Author, MediaOut, TweetOut, TweetPage
from api.wiring import Wiring
from projections.model import TweetView, UserView
from projections.queries import Page, Queries
from projections.timeline import BadCursor, decode_cursor, encode_cursor

MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, description=f"Page size, 1-{MAX_LIMIT} (larger values are capped).")]
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]


def page_bounds(limit: int, cursor: str | None) -> tuple[int, int | None]:
    try:
        return min(limit, MAX_LIMIT), decode_cursor(cursor)
    except BadCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad cursor: {exc}") from exc


def queries(w: Wiring) -> Queries:
    if w.queries is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    return w.queries


def author_out(u: UserView) -> Author:
    return Author(user_id=str(u.user_id), handle=u.handle, display_name=u.display_name)


def tweet_out(v: TweetView) -> TweetOut:
    return TweetOut(
        tweet_id=str(v.tweet_id),
        user_id=str(v.author_id),
        content=v.content,
        created_at=v.created_at,
        reply_to=None if v.reply_to is None else str(v.reply_to),
        edited_at=v.edited_at,
        like_count=v.like_count,
        reply_count=v.reply_count,
        media=[MediaOut(url=m.url, type=m.type, alt_text=m.alt_text, size_bytes=m.size_bytes) for m in v.media],
        author=author_out(v.author) if v.author else None,
    )


def page_out(page: Page) -> TweetPage:
    cursor = encode_cursor(page.next_before) if page.next_before else None
    return TweetPage(tweets=[tweet_out(v) for v in page.tweets], next_cursor=cursor)
