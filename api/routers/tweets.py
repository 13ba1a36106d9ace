"""Tweets: post, reply, edit, delete, like and unlike."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from api.auth import Actor, require_self
from api.models import Id, MediaOut, TweetCreate, TweetCreated, TweetEdit, TweetEditAccepted
from api.routers.common import errors
from api.wiring import Wiring, wiring
from schemas.events import Media, Meta, TweetDeleted, TweetEdited, TweetLiked, TweetPosted, TweetUnliked

router = APIRouter(tags=["tweets"])
W = Annotated[Wiring, Depends(wiring)]
TweetId = Annotated[Id, Path(description="A tweet id (decimal string).", examples=["7251846523904001"])]
WRITE_ERRORS = errors(401, 403, 413, 422, 503)


@router.post(
    "/tweets",
    status_code=status.HTTP_201_CREATED,
    response_model=TweetCreated,
    responses=WRITE_ERRORS,
    summary="Post a tweet or a reply",
)
async def post_tweet(body: TweetCreate, actor: Actor, w: W) -> TweetCreated:
    require_self(actor, body.user_id, "user_id")
    media = tuple(Media(m.url, m.type, m.alt_text, m.size_bytes) for m in body.media)
    event = TweetPosted(Meta.new(actor), w.ids.next_id(), actor, body.content, body.reply_to, media)
    await w.events.append(event)
    return TweetCreated(
        tweet_id=str(event.tweet_id),
        user_id=str(actor),
        content=event.content,
        reply_to=None if event.reply_to is None else str(event.reply_to),
        media=[MediaOut(url=m.url, type=m.type, alt_text=m.alt_text, size_bytes=m.size_bytes) for m in media],
        created_at=event.meta.occurred_at,
    )


@router.patch("/tweets/{tweet_id}", response_model=TweetEditAccepted, responses=WRITE_ERRORS, summary="Edit a tweet")
async def edit_tweet(tweet_id: TweetId, body: TweetEdit, actor: Actor, w: W) -> TweetEditAccepted:
    event = TweetEdited(Meta.new(actor), tweet_id, actor, body.content)
    await w.events.append(event)
    return TweetEditAccepted(
        tweet_id=str(tweet_id), user_id=str(actor), content=event.content, edited_at=event.meta.occurred_at
    )


@router.delete(
    "/tweets/{tweet_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Delete a tweet",
)
async def delete_tweet(tweet_id: TweetId, actor: Actor, w: W) -> Response:
    await w.events.append(TweetDeleted(Meta.new(actor), tweet_id, actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/tweets/{tweet_id}/like",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Like a tweet (liking twice is harmless)",
)
async def like(tweet_id: TweetId, actor: Actor, w: W) -> Response:
    await w.events.append(TweetLiked(Meta.new(actor), tweet_id, actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/tweets/{tweet_id}/like",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Take back a like",
)
async def unlike(tweet_id: TweetId, actor: Actor, w: W) -> Response:
    await w.events.append(TweetUnliked(Meta.new(actor), tweet_id, actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
