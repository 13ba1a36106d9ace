"""Tweets: post, reply, edit, delete, like and unlike."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status

from api.aftermath import after_append
from api.auth import Actor, require_self
from api.idempotency import Ids
from api.media import upload_media
from api.models import (
    Id,
    MediaIn,
    Problem,
    TweetCreate,
    TweetCreated,
    TweetEdit,
    TweetEditAccepted,
    TweetOut,
    TweetPage,
)
from api.render import json_response, media_base, page_json, tweet_created_json, tweet_json
from api.routers.common import errors
from api.routers.reads import Cursor, Limit, page_bounds, queries
from api.throttle import per_user, reader
from api.wiring import Wiring, wiring
from projections.model import TweetView
from projections.text import mentioned_handles
from schemas.events import Media, TweetDeleted, TweetEdited, TweetLiked, TweetPosted, TweetUnliked

router = APIRouter(tags=["tweets"])
POST_RULES = ("posts", "writes")  # the rate-limit rules a post counts against (api/fastlane.py checks them too)
W = Annotated[Wiring, Depends(wiring)]
TweetId = Annotated[Id, Path(description="A tweet id (decimal string).", examples=["7251846523904001"])]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such tweet (or it was deleted)."}
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {**errors(401, 403, 413, 422, 503), **NOT_FOUND}


async def _live_tweet(w: Wiring, tweet_id: int, what: str = "tweet") -> int:
    """The author of a tweet that exists and is not deleted; 404 otherwise."""
    author, deleted = await w.tweets.tweet_state(tweet_id)
    if author is None or deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {tweet_id} not found")
    return author


async def _mentions(w: Wiring, content: str) -> tuple[int, ...]:
    """The users the text names as @handle, resolved now so that the event says who was mentioned
    (replays need no lookups, and a handle's meaning is the one it had when the tweet was posted)."""
    handles = mentioned_handles(content)
    if not handles:
        return ()
    found = await w.accounts.users_by_handle(handles)
    return tuple(dict.fromkeys(found[h] for h in handles if h in found))


async def _own_tweet(w: Wiring, tweet_id: int, actor: int) -> None:
    if await _live_tweet(w, tweet_id) != actor:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"only the author may change tweet {tweet_id}")


async def _media(w: Wiring, actor: int, i: int, m: MediaIn) -> Media:
    """An external URL as given, or the actor's own upload named by media_id (alt text may be given anew)."""
    if m.media_id is None:
        assert m.url is not None and m.type is not None  # MediaIn checked it
        return Media(m.url, m.type, m.alt_text, m.size_bytes)
    up = await w.uploads.get(m.media_id)
    if up is None or up.owner != actor:
        raise HTTPException(404, f"media.{i}.media_id: no upload {m.media_id} of yours (unknown, or expired)")
    if m.type is not None and m.type != up.type:
        raise HTTPException(422, f"media.{i}.type: the upload is {up.type}, not {m.type}")
    return upload_media(up, media_base(), m.alt_text)


@router.post(
    "/tweets",
    dependencies=[per_user(*POST_RULES)],
    status_code=status.HTTP_201_CREATED,
    response_model=TweetCreated,
    responses=WRITE_ERRORS,
    summary="Post a tweet or a reply",
)
async def post_tweet(body: TweetCreate, actor: Actor, w: W, ids: Ids) -> Response:
    require_self(actor, body.user_id, "user_id")
    if body.reply_to is not None:
        await _live_tweet(w, body.reply_to, "reply_to tweet")
    media = tuple([await _media(w, actor, i, m) for i, m in enumerate(body.media)])
    mentions = await _mentions(w, body.content)
    event = TweetPosted(ids.meta(actor), ids.next_id(), actor, body.content, body.reply_to, media, mentions)
    await w.events.append(event)
    await after_append("read-your-writes mark", w.tweets.mark_pending(event.tweet_id, actor), None)
    return json_response(tweet_created_json(event), status.HTTP_201_CREATED)


@router.patch(
    "/tweets/{tweet_id}",
    dependencies=[per_user("posts", "writes")],
    response_model=TweetEditAccepted,
    responses=WRITE_ERRORS,
    summary="Edit a tweet",
)
async def edit_tweet(tweet_id: TweetId, body: TweetEdit, actor: Actor, w: W, ids: Ids) -> TweetEditAccepted:
    await _own_tweet(w, tweet_id, actor)
    event = TweetEdited(ids.meta(actor), tweet_id, actor, body.content)
    await w.events.append(event)
    return TweetEditAccepted(
        tweet_id=str(tweet_id), user_id=str(actor), content=event.content, edited_at=event.meta.occurred_at
    )


@router.delete(
    "/tweets/{tweet_id}",
    dependencies=[per_user("deletes", "writes")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Delete a tweet",
)
async def delete_tweet(tweet_id: TweetId, actor: Actor, w: W, ids: Ids) -> Response:
    await _own_tweet(w, tweet_id, actor)
    await w.events.append(TweetDeleted(ids.meta(actor), tweet_id, actor))
    await after_append("read-your-writes mark", w.tweets.mark_pending(tweet_id, None), None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/tweets/{tweet_id}/like",
    dependencies=[per_user("writes")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Like a tweet (liking twice is harmless)",
)
async def like(tweet_id: TweetId, actor: Actor, w: W, ids: Ids) -> Response:
    await _live_tweet(w, tweet_id)
    await w.events.append(TweetLiked(ids.meta(actor), tweet_id, actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/tweets/{tweet_id}/like",
    dependencies=[per_user("writes")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Take back a like",
)
async def unlike(tweet_id: TweetId, actor: Actor, w: W, ids: Ids) -> Response:
    await _live_tweet(w, tweet_id)
    await w.events.append(TweetUnliked(ids.meta(actor), tweet_id, actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _visible(w: Wiring, tweet_id: int) -> TweetView:
    """The tweet, or 404 if it is unknown, deleted, or deleted moments ago (a delete the worker has not
    projected yet counts at once: read-your-writes, for the tweet and what hangs under it)."""
    view = await queries(w).tweet(tweet_id)
    if view is None or (await w.tweets.tweet_state(tweet_id))[1]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"tweet {tweet_id} not found")
    return view


READ_ERRORS: dict[int | str, dict[str, Any]] = {**NOT_FOUND, 400: {"model": Problem}, **errors(422)}


@router.get(
    "/tweets/{tweet_id}", dependencies=[reader()], response_model=TweetOut, responses=READ_ERRORS, summary="One tweet"
)
async def get_tweet(tweet_id: TweetId, w: W) -> Response:
    view = await _visible(w, tweet_id)
    return json_response(tweet_json(view))


@router.get("/tweets/{tweet_id}/replies", dependencies=[reader()], response_model=TweetPage, responses=READ_ERRORS,
            summary="Replies to a tweet, newest first")  # fmt: skip
async def replies(tweet_id: TweetId, w: W, limit: Limit = 20, cursor: Cursor = None) -> Response:
    size, before = page_bounds(limit, cursor)
    await _visible(w, tweet_id)
    return json_response(page_json(await queries(w).replies(tweet_id, before, size)))
