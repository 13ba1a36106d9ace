"""Timelines, Mastodon's pages of statuses: the caller's home timeline (chirp's materialized home timelines,
projections/queries.py), a hashtag's statuses (the search index) and the public timeline (every status that
is not a reply: projections/public.py). All are paged as Mastodon pages them (api/mastodon/paging.py): `max_id`,
`since_id`, `min_id` (the entries just above it, read with projections/windows.py), `limit`, `Link` headers.

Read your own writes: the home timeline waits (at most CHIRP_READ_WAIT_MS) until the worker has applied the
caller's own recent writes, so a status just posted is on it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api.mastodon.accounts import _paged
from api.mastodon.auth import Caller, scoped
from api.mastodon.errors import responses
from api.mastodon.paging import Limit, MaxId, MinId, SinceId, Window, page
from api.mastodon.statuses import LINK, _reader_id, render
from api.positions import settle
from api.routers.reads import queries
from api.throttle import reader
from api.wiring import Wiring, wiring
from projections.model import TweetView
from projections.search_terms import BadQuery, NothingToFind, parse_query
from projections.text import is_tag
from projections.windows import Newest, oldest_first

router = APIRouter(tags=["mastodon: timelines"])
W = Annotated[Wiring, Depends(wiring)]
HOME = scoped("read", "read:statuses")
TAG_ROUNDS = 10  # search pages read for one tag page at most (each is bounded: projections/search.py)
Flag = Annotated[bool, Query()]


async def _window(win: Window, newest: Newest[TweetView]) -> tuple[list[TweetView], bool]:
    """What `page` asks of a read model that answers newest first (min_id: read upwards, oldest first)."""
    if win.oldest_first:
        assert win.after is not None
        return await oldest_first(newest, lambda v: v.tweet_id, win.before, win.after, win.limit), False
    return await newest(win.before, win.after, win.limit)


async def _answer(
    request: Request, w: Wiring, me: int | None, newest: Newest[TweetView], max_id: str | None,
    since_id: str | None, min_id: str | None, limit: int, keep: Callable[[TweetView], bool] = lambda v: True,
) -> Response:  # fmt: skip
    async def fetch(win: Window) -> tuple[list[TweetView], bool]:
        return await _window(win, newest)

    got = await page(Window.of(max_id, since_id, min_id, limit), fetch)
    shown = [v for v in got.items if keep(v)]
    return _paged(request, await render(request, w, shown, me), [v.tweet_id for v in got.items], got.more_older)


def _media_filter(only_media: bool) -> Callable[[TweetView], bool]:
    return lambda v: bool(v.media) or not only_media


@router.get(
    "/api/v1/timelines/home",
    response_model=None,
    responses={**responses(401, 403, 422), **LINK},
    summary="The caller's home timeline: their statuses and those of the accounts they follow, newest first",
)
async def home(
    request: Request,
    w: W,
    caller: Annotated[Caller, HOME],
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 20,
) -> Response:
    me = caller.user_id
    caught_up = await settle(w.write_marks, w.applied, me, w.settings.read_wait_ms / 1000)
    q = queries(w)

    async def newest(before: int | None, after: int | None, n: int) -> tuple[list[TweetView], bool]:
        return await q.home_window(me, before, after, n)

    answer = await _answer(request, w, me, newest, max_id, since_id, min_id, limit)
    if not caught_up:
        answer.headers["X-Chirp-Caught-Up"] = "false"
    return answer


@router.get(
    "/api/v1/timelines/public",
    dependencies=[reader()],
    response_model=None,
    responses={**responses(401, 422, 429), **LINK},
    summary="Every status on this instance that is not a reply, newest first (`local`: the same; `remote`: none)",
)
async def public(
    request: Request,
    w: W,
    local: Flag = False,
    remote: Flag = False,
    only_media: Flag = False,
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 20,
) -> Response:
    me = await _reader_id(request, w)
    if remote:  # one instance: no status is remote
        return JSONResponse([])
    if w.public is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    return await _answer(request, w, me, w.public.window, max_id, since_id, min_id, limit, _media_filter(only_media))


@router.get(
    "/api/v1/timelines/tag/{hashtag}",
    dependencies=[reader("search")],
    response_model=None,
    responses={**responses(401, 404, 422, 429), **LINK},
    summary="Statuses with the hashtag (without `#`), newest first",
)
async def tag(
    request: Request,
    w: W,
    hashtag: Annotated[str, Path(min_length=1, max_length=100, examples=["chirp"])],
    local: Flag = False,
    remote: Flag = False,
    only_media: Flag = False,
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 20,
) -> Response:
    me = await _reader_id(request, w)
    name = hashtag.removeprefix("#")
    if remote or not is_tag(name):
        return JSONResponse([])
    if w.search is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    search = w.search
    try:
        query = parse_query(f"#{name}")
    except (NothingToFind, BadQuery):
        return JSONResponse([])

    async def newest(before: int | None, after: int | None, n: int) -> tuple[list[TweetView], bool]:
        found: list[TweetView] = []
        cursor = before
        for _ in range(TAG_ROUNDS):
            got = await search.search(query, cursor, n + 1 - len(found))
            above = [v for v in got.tweets if after is None or v.tweet_id > after]
            found += above
            if len(found) > n:
                return found[:n], True
            if len(above) < len(got.tweets) or got.next_before is None:
                return found, False
            cursor = got.next_before
        return found, True

    return await _answer(request, w, me, newest, max_id, since_id, min_id, limit, _media_filter(only_media))
