"""Statuses, Mastodon's face of chirp's tweets: post (with an Idempotency-Key, through the same middleware as
chirp's own writes), read, edit, delete, context, edit history and source text, favourite and unfavourite, and the
caller's favourites. Writes append the same events as chirp's own routes (api/routers/tweets.py: TweetPosted,
TweetEdited, TweetDeleted, TweetLiked, TweetUnliked), checked the same way; reads come from chirp's read models.

chirp has public statuses only, without content warnings: `visibility` other than `public` and a `spoiler_text`
are refused (422) rather than published more widely than asked; `sensitive` is refused with media (they would
be shown unblurred) and ignored without; `language` is accepted and not kept (statuses answer `null`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema, field_validator

from api.aftermath import after_append
from api.idempotency import Ids
from api.mastodon.accounts import NOT_FOUND, _paged, account_of
from api.mastodon.auth import Caller, caller, limited, scoped
from api.mastodon.errors import responses
from api.mastodon.models import Context, DeletedStatus, Params, Status, StatusEdit, StatusSource, _flag
from api.mastodon.paging import Limit, MaxId, MinId, SinceId, Window, page
from api.mastodon.params import body_schema, params, validate
from api.mastodon.site import base_url
from api.models import MAX_CONTENT, MAX_MEDIA, MediaIn, clean_content
from api.positions import settle
from api.routers.reads import queries
from api.routers.tweets import _media, _mentions
from api.textrules import CONTENT_PATTERN
from api.throttle import reader
from api.wiring import Wiring, wiring
from projections.mastodon_wire import account_json, attachment_id, mentioned, status_edit_json, status_json
from projections.model import TweetView, UserView
from schemas.events import Media, TweetDeleted, TweetEdited, TweetLiked, TweetPosted, TweetUnliked
from schemas.ids import ID_PATTERN, parse_id

router = APIRouter(tags=["mastodon: statuses"])
W = Annotated[Wiring, Depends(wiring)]
StatusId = Annotated[str, Path(pattern=ID_PATTERN, description="A status id.", examples=["7251846523904001"])]
WRITE = scoped("write", "write:statuses")
READ = scoped("read", "read:statuses")
FAVOURITE = scoped("write", "write:favourites")
ANCESTORS = 40  # statuses above one in its thread, at most (as Mastodon)
DESCENDANTS = 60  # statuses below one, at most (Mastodon's number for anonymous readers)
HISTORY = 100  # versions of a status listed, at most
STATUS_ERRORS = responses(401, 403, 404, 413, 422, 429, 503)
BODY_ERRORS = responses(400, 401, 403, 404, 413, 422, 429, 503)  # 400: a body that is not JSON (or a form)
UNSUPPORTED = ("scheduled_at", "poll")  # refused when sent (polls, scheduled statuses); not in the schema
LINK_DOC = 'Next (older) and previous (newer) pages: rel="next", rel="prev".'
LINK: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"Link": {"schema": {"type": "string"}, "description": LINK_DOC}}}
}


_WORDS = "|".join("".join(f"[{c.upper()}{c}]" for c in w) for w in ("true", "false", "on", "off", "yes", "no"))
_TRUE = "^[ \\t]*(?:1|" + "|".join("".join(f"[{c.upper()}{c}]" for c in w) for w in ("true", "on", "yes")) + ")[ \\t]*$"
FLAG_SCHEMA = {  # a form's flags as Rails reads them (api/mastodon/models.py's _flag); JSON sends a boolean
    "anyOf": [{"type": "boolean"}, {"type": "string", "pattern": f"^[ \\t]*(?:1|0|{_WORDS})[ \\t]*$"}]
}


def _ids(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class StatusIn(Params):
    """What POST /api/v1/statuses and PUT /api/v1/statuses/:id take (form or JSON)."""

    model_config = ConfigDict(
        json_schema_extra={  # what _check_extras enforces, said so the schema can check it too
            "not": {"required": ["sensitive", "media_ids"],
                    "properties": {"sensitive": {"anyOf": [{"const": True}, {"type": "string", "pattern": _TRUE}]},
                                   "media_ids": {"minItems": 1}}}
        }
    )  # fmt: skip

    status: str = Field(min_length=1, max_length=MAX_CONTENT, pattern=CONTENT_PATTERN,
                        description=f"The text, 1-{MAX_CONTENT} characters.", examples=["hello, world"])  # fmt: skip
    in_reply_to_id: str | None = Field(None, pattern=ID_PATTERN, description="The status this replies to.")
    media_ids: Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]], BeforeValidator(_ids)] = Field(
        default_factory=list, max_length=MAX_MEDIA, description="Uploads of the caller to attach (`media_ids[]`)."
    )
    sensitive: Annotated[StrictBool, BeforeValidator(_flag), WithJsonSchema(FLAG_SCHEMA)] = Field(
        False, description="Refused with media (chirp cannot hide them); without media it changes nothing."
    )
    spoiler_text: str = Field("", max_length=0, description="chirp has no content warnings: must be empty.")
    visibility: Literal["public"] | None = Field(None, description="chirp's statuses are all public.")
    language: str | None = Field(None, pattern=r"^[A-Za-z]{2,3}$", description="Accepted, not kept.")

    _status = field_validator("status")(classmethod(lambda cls, v: clean_content(v)))


def _view(v: TweetView | None, deleted: bool) -> TweetView:
    if v is None or deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return v


async def visible(w: Wiring, status_id: int) -> TweetView:
    """The status, or 404 if unknown or deleted (a delete accepted moments ago counts at once). One accepted
    moments ago and not projected yet is waited for (its author's recent writes, at most CHIRP_READ_WAIT_MS)."""
    view = await queries(w).tweet(status_id)
    author, deleted = await w.tweets.tweet_state(status_id)
    if view is None and author is not None and not deleted:
        await settle(w.write_marks, w.applied, author, w.settings.read_wait_ms / 1000)
        view = await queries(w).tweet(status_id)
    return _view(view, deleted)


async def _own(w: Wiring, status_id: int, me: int) -> TweetView:
    view = await visible(w, status_id)
    if view.author_id != me:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This action is not allowed")
    return view


async def render(
    request: Request, w: Wiring, views: Sequence[TweetView], me: int | None, liked: set[int] | None = None
) -> list[dict[str, Any]]:  # fmt: skip
    """Statuses of a page: mentions looked up once, authors rendered once each, `favourited` for the caller,
    and the author of each status replied to."""
    q = queries(w)
    base = base_url(request, w.settings)
    handles = mentioned(v.content for v in views)
    accounts = await w.accounts.users_by_handle(handles) if handles else {}
    if liked is None:
        liked = await q.liked(me, [v.tweet_id for v in views]) if me is not None and views else set()
    parents = sorted({v.reply_to for v in views if v.reply_to is not None})
    reply_authors = await q.authors(parents) if parents else {}
    authors: dict[int, dict[str, Any]] = {}
    for v in views:
        if v.author_id not in authors:
            authors[v.author_id] = account_json(v.author or UserView(v.author_id, "", ""), base)
    return [
        status_json(v, base, accounts, authors[v.author_id], v.tweet_id in liked,
                    reply_authors.get(v.reply_to) if v.reply_to is not None else None)
        for v in views
    ]  # fmt: skip


async def _one(
    request: Request, w: Wiring, view: TweetView, me: int | None, liked: bool | None = None
) -> dict[str, Any]:
    shown = await render(request, w, [view], me, None if liked is None else ({view.tweet_id} if liked else set()))
    return shown[0]


async def _with_author(request: Request, w: Wiring, view: TweetView) -> TweetView:
    """The view with its author's profile (a status posted moments ago: the command side's record)."""
    if view.author is not None and view.author.handle:
        return view
    account = await account_of(request, w, view.author_id)
    return replace(view, author=UserView(view.author_id, account["username"], account["display_name"]))


def _check_extras(body: StatusIn) -> None:
    if body.sensitive and body.media_ids:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "Validation failed: sensitive: chirp cannot hide media behind a warning")  # fmt: skip


async def _body(request: Request) -> StatusIn:
    raw = await params(request)
    for key, value in raw.items():  # a form sends a poll as poll[options][], poll[expires_in]
        name = key.partition("[")[0]
        if name in UNSUPPORTED and value not in (None, "", [], {}):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"Validation failed: {name}: not supported by chirp")  # fmt: skip
    body = validate(StatusIn, raw)
    _check_extras(body)
    return body


async def _attached(w: Wiring, me: int, media_ids: list[str]) -> tuple[Media, ...]:
    """The caller's uploads named by `media_ids` (the same checks as chirp's own POST /tweets)."""
    return tuple([await _media(w, me, i, MediaIn(media_id=m)) for i, m in enumerate(media_ids)])


# Post, read, edit, delete --------------------------------------------------------------------------------------


@router.post(
    "/api/v1/statuses",
    dependencies=[WRITE, limited("posts", "writes")],
    response_model=Status,
    responses=BODY_ERRORS,
    openapi_extra=body_schema(StatusIn),
    summary="Post a status or a reply (the TweetPosted event); answers the new Status",
)
async def post_status(request: Request, w: W, ids: Ids, caller: Annotated[Caller, WRITE]) -> dict[str, Any]:
    me = caller.user_id
    body = await _body(request)
    reply_to = parse_id(body.in_reply_to_id) if body.in_reply_to_id else None
    if reply_to is not None:
        author, deleted = await w.tweets.tweet_state(reply_to)
        if author is None or deleted:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    media = await _attached(w, me, body.media_ids)
    mentions = await _mentions(w, body.status)
    event = TweetPosted(ids.meta(me), ids.next_id(), me, body.status, reply_to, media, mentions)
    await w.events.append(event)
    await after_append("read-your-writes mark", w.tweets.mark_pending(event.tweet_id, me), None)
    view = TweetView(event.tweet_id, me, event.content, event.meta.occurred_at, reply_to, media=media)
    return await _one(request, w, await _with_author(request, w, view), me, liked=False)


async def _reader_id(request: Request, w: Wiring) -> int | None:
    """The caller of a public read, if a user's token came with it; their own recent writes are waited for."""
    found = await caller(request, w)
    if found is None or found.grant.user_id is None:
        return None
    await settle(w.write_marks, w.applied, found.grant.user_id, w.settings.read_wait_ms / 1000)
    return found.grant.user_id


@router.get(
    "/api/v1/statuses/{status_id}",
    dependencies=[reader()],
    response_model=Status,
    responses=responses(401, 404, 422, 429),
    summary="A status",
)
async def get_status(request: Request, w: W, status_id: StatusId) -> dict[str, Any]:
    me = await _reader_id(request, w)
    return await _one(request, w, await visible(w, parse_id(status_id)), me)


@router.put(
    "/api/v1/statuses/{status_id}",
    dependencies=[WRITE, limited("posts", "writes")],
    response_model=Status,
    responses=BODY_ERRORS,
    openapi_extra=body_schema(StatusIn),
    summary="Edit one's status (the TweetEdited event): its text; `media_ids` may name its attachments again, "
    "not others",
)
async def edit_status(
    request: Request, w: W, ids: Ids, status_id: StatusId, caller: Annotated[Caller, WRITE]
) -> dict[str, Any]:
    me, tweet_id = caller.user_id, parse_id(status_id)
    body = await _body(request)
    view = await _own(w, tweet_id, me)
    attached = [attachment_id(tweet_id, i, m) for i, m in enumerate(view.media)]  # the ids the status shows
    unknown = [m for m in body.media_ids if m not in attached]
    if unknown:  # Mastodon's answer: a validation error (the status itself was found)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"Validation failed: media_ids: {unknown[0]} is no attachment of this status")  # fmt: skip
    if "media_ids" in await params(request) and body.media_ids != attached:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "Validation failed: media_ids: chirp cannot change a status's media")  # fmt: skip
    event = TweetEdited(ids.meta(me), tweet_id, me, body.status)
    await w.events.append(event)
    edited = replace(view, content=event.content, edited_at=event.meta.occurred_at)
    return await _one(request, w, edited, me)


@router.delete(
    "/api/v1/statuses/{status_id}",
    dependencies=[WRITE, limited("deletes", "writes")],
    response_model=DeletedStatus,
    responses=STATUS_ERRORS,
    summary="Delete one's status (the TweetDeleted event); answers it with its source `text`, to redraft",
)
async def delete_status(
    request: Request, w: W, ids: Ids, status_id: StatusId, caller: Annotated[Caller, WRITE]
) -> dict[str, Any]:
    me, tweet_id = caller.user_id, parse_id(status_id)
    view = await _own(w, tweet_id, me)
    await w.events.append(TweetDeleted(ids.meta(me), tweet_id, me))
    await after_append("read-your-writes mark", w.tweets.mark_pending(tweet_id, None), None)
    return {**(await _one(request, w, view, me)), "text": view.content}


# Around a status ------------------------------------------------------------------------------------------------


@router.get(
    "/api/v1/statuses/{status_id}/context",
    dependencies=[reader()],
    response_model=Context,
    responses={
        **responses(401, 404, 422, 429),
        200: {"description": "`ancestors` and `descendants`, each a list of Status in thread order."},
    },
    summary="The statuses above one in its thread and those below it",
)
async def context(request: Request, w: W, status_id: StatusId) -> dict[str, Any]:
    me = await _reader_id(request, w)
    q = queries(w)
    view = await visible(w, parse_id(status_id))
    ancestors: list[TweetView] = []
    parent = view.reply_to
    while parent is not None and len(ancestors) < ANCESTORS:
        found = await q.tweet(parent)
        if found is None:
            break
        ancestors.append(found)
        parent = found.reply_to
    descendants: list[TweetView] = []
    stack = (await q.replies(view.tweet_id, None, DESCENDANTS)).tweets  # newest first: pop() takes the oldest
    while stack and len(descendants) < DESCENDANTS:  # depth first, each status's replies oldest first
        below = stack.pop()
        descendants.append(below)
        stack += (await q.replies(below.tweet_id, None, DESCENDANTS)).tweets
    every = await render(request, w, [*reversed(ancestors), *descendants[:DESCENDANTS]], me)
    return {"ancestors": every[: len(ancestors)], "descendants": every[len(ancestors) :]}


@router.get(
    "/api/v1/statuses/{status_id}/history",
    dependencies=[reader()],
    response_model=list[StatusEdit],
    responses={
        **responses(401, 404, 422, 429),
        200: {"description": "StatusEdit entries, oldest first: the status as posted, then each edit."},
    },
    summary="The versions of a status, oldest first (the last is the current one)",
)
async def history(request: Request, w: W, status_id: StatusId) -> list[dict[str, Any]]:
    await _reader_id(request, w)
    view = await _with_author(request, w, await visible(w, parse_id(status_id)))
    versions = await queries(w).versions(view.tweet_id, HISTORY)
    if not versions or versions[-1][1] != view.content:  # the current text, until its edit is projected
        versions.append((view.edited_at or view.created_at, view.content))
    base = base_url(request, w.settings)
    shown = await _one(request, w, view, None)
    handles = mentioned(text for _, text in versions)
    accounts = await w.accounts.users_by_handle(handles) if handles else {}
    return [status_edit_json(text, at, base, accounts, shown["account"], shown["media_attachments"])
            for at, text in versions]  # fmt: skip


@router.get(
    "/api/v1/statuses/{status_id}/source",
    response_model=StatusSource,
    responses=responses(401, 403, 404, 422),
    summary="A status's source text, which clients (masto.js, Elk, Phanpy) fetch before editing it",
)
async def source(request: Request, w: W, status_id: StatusId, caller: Annotated[Caller, READ]) -> dict[str, Any]:
    await settle(w.write_marks, w.applied, caller.user_id, w.settings.read_wait_ms / 1000)  # one's own last edit
    view = await visible(w, parse_id(status_id))
    return {"id": str(view.tweet_id), "text": view.content, "spoiler_text": ""}


# Favourites -----------------------------------------------------------------------------------------------------


async def _favourite(request: Request, w: Wiring, ids: Ids, status_id: str, me: int, like: bool) -> dict[str, Any]:
    tweet_id = parse_id(status_id)
    view = await visible(w, tweet_id)
    was = tweet_id in await queries(w).liked(me, [tweet_id])
    meta = ids.meta(me)
    await w.events.append(TweetLiked(meta, tweet_id, me) if like else TweetUnliked(meta, tweet_id, me))
    count = max(0, view.like_count + (like and not was) - (was and not like))
    return await _one(request, w, replace(view, like_count=count), me, liked=like)


@router.post(
    "/api/v1/statuses/{status_id}/favourite",
    dependencies=[FAVOURITE, limited("writes")],
    response_model=Status,
    responses=STATUS_ERRORS,
    summary="Favourite a status (the TweetLiked event; twice is harmless)",
)
async def favourite(
    request: Request, w: W, ids: Ids, status_id: StatusId, caller: Annotated[Caller, FAVOURITE]
) -> dict[str, Any]:
    return await _favourite(request, w, ids, status_id, caller.user_id, True)


@router.post(
    "/api/v1/statuses/{status_id}/unfavourite",
    dependencies=[FAVOURITE, limited("writes")],
    response_model=Status,
    responses=STATUS_ERRORS,
    summary="Take a favourite back (the TweetUnliked event)",
)
async def unfavourite(
    request: Request, w: W, ids: Ids, status_id: StatusId, caller: Annotated[Caller, FAVOURITE]
) -> dict[str, Any]:
    return await _favourite(request, w, ids, status_id, caller.user_id, False)


FAVOURITES = scoped("read", "read:favourites")


@router.get(
    "/api/v1/favourites",
    response_model=list[Status],
    responses={**responses(401, 403, 422), **LINK},
    summary="The caller's favourites, newest status first (max_id, since_id, min_id, limit; Link headers)",
)
async def favourites(
    request: Request,
    w: W,
    caller: Annotated[Caller, FAVOURITES],
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 20,
) -> Response:
    me = caller.user_id
    await settle(w.write_marks, w.applied, me, w.settings.read_wait_ms / 1000)
    q = queries(w)

    async def fetch(win: Window) -> tuple[list[TweetView], bool]:
        return await q.likes_window(me, win.before, win.after, win.limit, win.oldest_first)

    got = await page(Window.of(max_id, since_id, min_id, limit), fetch)
    body = await render(request, w, got.items, me, {v.tweet_id for v in got.items})
    return _paged(request, body, [v.tweet_id for v in got.items], got.more_older)
