"""Search and trends, Mastodon's face of chirp's search index (projections/search.py) and trends read model
(projections/stores/redis_trends.py).

`GET /api/v2/search`: accounts by handle (`ann`, `@ann`, `ann@this.domain`: the exact holder first, then the
handles that start with it), statuses by chirp's query language (words, #tags, @mentions, "phrases"), hashtags
that are used (trending today, or found in a status); `offset` pages, `resolve` is ignored (one instance).
`GET /api/v1/trends/tags`: the hashtags most used over the last day, each with one day of history (the
trends model keeps a sliding day, not a week): `day` is today's midnight (UTC), `uses` and `accounts` the day's.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel

from api.mastodon.accounts import account_of, statuses_json
from api.mastodon.auth import scoped_if_token
from api.mastodon.errors import responses
from api.mastodon.models import Account, Status
from api.mastodon.paging import MaxId
from api.mastodon.site import base_url, domain
from api.routers.reads import queries
from api.throttle import reader
from api.wiring import Wiring, wiring
from projections.mastodon_wire import tag_json
from projections.model import Trend, TweetView
from projections.search_terms import MAX_QUERY, BadQuery, parse_query
from projections.text import is_tag, normalize
from schemas.ids import parse_id

router = APIRouter(tags=["mastodon: search and trends"])
W = Annotated[Wiring, Depends(wiring)]
HANDLE_PREFIX = re.compile(r"^[A-Za-z0-9_]{1,30}$")  # what a handle, or its start, can be
MAX_OFFSET = 200  # statuses a search walks past at most (offset + limit)
TRENDS_MAX = 20
DAY_S = 86_400


class History(BaseModel):
    day: str
    uses: str
    accounts: str


class TagOut(BaseModel):
    name: str
    url: str
    history: list[History]


class SearchOut(BaseModel):
    accounts: list[Account]
    statuses: list[Status]
    hashtags: list[TagOut]


async def _top(w: Wiring, limit: int) -> list[Trend]:
    if w.trends is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    return await w.trends.top("1d", datetime.now(UTC), limit)


def _tag(base: str, t: Trend, now: datetime) -> dict[str, Any]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return tag_json(base, t.display, [(midnight, t.tweets, t.accounts)])


async def _accounts(request: Request, w: Wiring, q: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """The account holding exactly that handle first (the command side's record: one registered a moment ago
    too), then those whose handle starts with it (the read model's index, in handle order); `offset` and
    `limit` page the whole."""
    user, _, host = q.strip().removeprefix("@").partition("@")
    if not HANDLE_PREFIX.match(user) or (host and host.lower() != domain(base_url(request, w.settings)).lower()):
        return []
    exact = await w.accounts.users_by_handle([user])
    starting = await queries(w).ids_by_handle_prefix(user, offset + limit + len(exact))
    ids = list(dict.fromkeys([*exact.values(), *starting]))[offset : offset + limit]
    shown = await asyncio.gather(*(_account_if_known(request, w, user_id) for user_id in ids))
    return [a for a in shown if a is not None]


async def _account_if_known(request: Request, w: Wiring, user_id: int) -> dict[str, Any] | None:
    try:
        return await account_of(request, w, user_id)
    except HTTPException:  # not projected yet and no command-side record either: left out
        return None


async def _statuses(request: Request, w: Wiring, q: str, before: int | None, offset: int, limit: int) -> list[Any]:
    if w.search is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    try:
        query = parse_query(q)
    except BadQuery:  # nothing to find (only punctuation, only exclusions)
        return []
    wanted = min(offset + limit, MAX_OFFSET)
    found: list[TweetView] = []
    for _ in range(8):  # each search examines a bounded number of candidates: follow the cursor a few times
        page = await w.search.search(query, before, wanted - len(found))
        found += page.tweets
        if page.next_before is None or len(found) >= wanted:
            break
        before = page.next_before
    return await statuses_json(request, w, found[offset:wanted])


async def _hashtags(request: Request, w: Wiring, q: str, offset: int, limit: int) -> list[dict[str, Any]]:
    word = q.strip().removeprefix("#")
    if not is_tag(word):
        return []
    tag, now, base = normalize(word), datetime.now(UTC), base_url(request, w.settings)
    trending = [t for t in await _top(w, 50) if t.tag.startswith(tag)]
    out = [_tag(base, t, now) for t in sorted(trending, key=lambda t: (t.tag != tag, -t.tweets))]
    if not any(t.tag == tag for t in trending) and w.search is not None:
        try:
            used = await w.search.search(parse_query(f"#{word}"), None, 1)
        except BadQuery:  # a tag the search index keeps no term of (e.g. private-use characters only)
            return out[offset : offset + limit]
        if used.tweets:
            out.insert(0, tag_json(base, word, []))
    return out[offset : offset + limit]


@router.get(
    "/api/v2/search",
    dependencies=[reader("search")],
    response_model=SearchOut,
    responses=responses(401, 403, 422, 429, 503),
    summary="Accounts (by handle or its start), statuses and hashtags matching `q` (`type` narrows; `offset` pages)",
)
async def search(
    request: Request,
    w: W,
    _: Annotated[Any, scoped_if_token("read", "read:search")],
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, examples=["#chirp"])],
    kind: Annotated[Literal["accounts", "statuses", "hashtags"] | None, Query(alias="type")] = None,
    resolve: Annotated[bool, Query(description="Ignored: chirp is one instance.")] = False,
    max_id: MaxId = None,
    limit: Annotated[int, Query(ge=1, description="Default 20, at most 40.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    size = min(limit, 40)
    before = parse_id(max_id) if max_id else None
    out: dict[str, Any] = {"accounts": [], "statuses": [], "hashtags": []}
    if kind in (None, "accounts"):
        out["accounts"] = await _accounts(request, w, q, offset, size)
    if kind in (None, "statuses"):
        out["statuses"] = await _statuses(request, w, q, before, offset, size)
    if kind in (None, "hashtags"):
        out["hashtags"] = await _hashtags(request, w, q, offset, size)
    return out


async def _trend_tags(request: Request, w: Wiring, limit: int, offset: int) -> list[dict[str, Any]]:
    now, base = datetime.now(UTC), base_url(request, w.settings)
    return [_tag(base, t, now) for t in (await _top(w, offset + min(limit, TRENDS_MAX)))[offset:]]


TrendsLimit = Annotated[int, Query(ge=1, description=f"Default 10, at most {TRENDS_MAX}.")]
TrendsOffset = Annotated[int, Query(ge=0, le=30)]


@router.get(
    "/api/v1/trends/tags",
    dependencies=[reader()],
    response_model=list[TagOut],
    responses=responses(422, 429, 503),
    summary="Hashtags most used over the last day, with that day's uses and accounts",
)
async def trend_tags(request: Request, w: W, limit: TrendsLimit = 10, offset: TrendsOffset = 0) -> list[Any]:
    return await _trend_tags(request, w, limit, offset)


@router.get(
    "/api/v1/trends",
    dependencies=[reader()],
    response_model=list[TagOut],
    responses=responses(422, 429, 503),
    summary="Trending hashtags (the old name of /api/v1/trends/tags)",
)
async def trends_old(request: Request, w: W, limit: TrendsLimit = 10, offset: TrendsOffset = 0) -> list[Any]:
    return await _trend_tags(request, w, limit, offset)
