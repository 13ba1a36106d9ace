"""Mastodon's paging (its paginable.rb), shared by every Mastodon list route.

`max_id`: entries below it, newest first. `since_id`: the newest entries above it. `min_id`: the entries
immediately above it (read oldest first, answered newest first); `min_id` wins over `since_id`. Each
bounds the others. `limit` defaults to 20 and is capped at 40. The answer's `Link` header names the next
(older) page as `rel="next"` with `max_id` of the last entry, and the newer one as `rel="prev"` with
`min_id` of the first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query

from schemas.ids import ID_PATTERN, parse_id

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
T = TypeVar("T")

MaxId = Annotated[str | None, Query(pattern=ID_PATTERN, description="Entries older than this id.")]
SinceId = Annotated[str | None, Query(pattern=ID_PATTERN, description="The newest entries newer than this id.")]
MinId = Annotated[str | None, Query(pattern=ID_PATTERN, description="The entries immediately newer than this id.")]
Limit = Annotated[int, Query(ge=1, description=f"Entries per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).")]


@dataclass(frozen=True)
class Window:
    """What a page asks the store for: ids strictly between `after` and `before`, `limit` of them, oldest first
    when `oldest_first` (min_id), else newest first."""

    before: int | None
    after: int | None
    limit: int
    oldest_first: bool

    @classmethod
    def of(cls, max_id: str | None, since_id: str | None, min_id: str | None, limit: int = DEFAULT_LIMIT) -> Window:
        before = parse_id(max_id) if max_id else None
        low = min_id or since_id
        after = parse_id(low) if low else None
        return cls(before, after, max(1, min(limit, MAX_LIMIT)), min_id is not None)


@dataclass(frozen=True)
class Paged(Generic[T]):
    items: list[T]
    more_older: bool  # whether a next (older) page may hold more


async def page(window: Window, fetch: Callable[[Window], Awaitable[tuple[list[T], bool]]]) -> Paged[T]:
    """Runs `fetch` (which answers the window's items in the window's order, and whether more lie beyond) and
    returns the items newest first."""
    items, more = await fetch(window)
    if window.oldest_first:
        return Paged(list(reversed(items)), bool(items))
    return Paged(items, more)


def link_header(url: str, query: Sequence[tuple[str, str]], ids: Sequence[int], more_older: bool) -> str | None:
    """The `Link` header of a page whose entries (newest first) have `ids`: next (older) and prev (newer),
    keeping the request's other parameters; None for an empty page."""
    if not ids:
        return None
    kept = [(k, v) for k, v in query if k not in ("max_id", "since_id", "min_id")]
    links = []
    if more_older:
        links.append(f'<{url}?{urlencode([*kept, ("max_id", str(ids[-1]))])}>; rel="next"')
    links.append(f'<{url}?{urlencode([*kept, ("min_id", str(ids[0]))])}>; rel="prev"')
    return ", ".join(links)
