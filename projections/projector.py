"""Applies one event to the read models. Dispatches on the event type; knows nothing of Kafka.

Order matters and is fixed here: the durable projection first, then Redis; and within the fan-out
script, the author's own recent-tweets list before the follower set is read. Every step is
idempotent, so an event applied twice (redelivery, replay) leaves the same state.
"""

from __future__ import annotations

from projections.model import TweetView, UserView
from projections.ports import DurableProjections, Timelines
from schemas.events import (
    Event,
    TweetDeleted,
    TweetEdited,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserRegistered,
    UserUnfollowed,
)


class RuleViolation(ValueError):
    """The event breaks a rule of the model (e.g. an edit by someone else): it goes to dead letters."""


class Projector:
    def __init__(self, durable: DurableProjections, timelines: Timelines) -> None:
        self.durable = durable
        self.timelines = timelines

    async def apply(self, event: Event) -> int:
        """Projects the event; returns the number of home-timeline deliveries it made."""
        match event:
            case TweetPosted():
                return await self._posted(event)
            case TweetEdited():
                await self._edited(event)
            case TweetDeleted():
                return await self._deleted(event)
            case UserFollowed():
                await self.durable.follow(event.follower_id, event.followee_id, event.meta.occurred_at)
                return await self.timelines.follow(event.follower_id, event.followee_id)
            case UserUnfollowed():
                await self.durable.unfollow(event.follower_id, event.followee_id, event.meta.occurred_at)
                await self.timelines.unfollow(event.follower_id, event.followee_id)
            case TweetLiked() | TweetUnliked():
                liked = isinstance(event, TweetLiked)
                await self.durable.like(event.tweet_id, event.user_id, liked, event.meta.occurred_at)
                await self.timelines.like(event.tweet_id, event.user_id, liked)
            case UserRegistered():
                user = UserView(event.user_id, event.handle, event.display_name)
                await self.durable.save_user(user, event.meta.occurred_at)
                await self.timelines.save_user(event.user_id, event.handle, event.display_name)
        return 0

    async def _posted(self, e: TweetPosted) -> int:
        if e.author_id != e.meta.actor_id:
            raise RuleViolation(f"tweet {e.tweet_id} posted by {e.meta.actor_id} for author {e.author_id}")
        tweet = TweetView(e.tweet_id, e.author_id, e.content, e.meta.occurred_at, e.reply_to, media=e.media)
        await self.durable.save_tweet(tweet)
        delivered, _ = await self.timelines.post(tweet)
        return delivered

    async def _author_of(self, tweet_id: int, actor: int, what: str) -> int | None:
        author, reply_to = await self.timelines.reply_to_of(tweet_id)
        if author is None:
            found = (await self.durable.tweets([tweet_id])).get(tweet_id)
            if found is None:
                raise RuleViolation(f"{what} of unknown tweet {tweet_id}")
            author, reply_to = found.author_id, found.reply_to
        if author != actor:
            raise RuleViolation(f"{what} of tweet {tweet_id} by {actor}, who is not its author {author}")
        return reply_to

    async def _edited(self, e: TweetEdited) -> None:
        await self._author_of(e.tweet_id, e.meta.actor_id, "edit")
        await self.durable.edit_tweet(e.tweet_id, e.content, e.meta.occurred_at)
        await self.timelines.edit(e.tweet_id, e.content, e.meta.occurred_at)

    async def _deleted(self, e: TweetDeleted) -> int:
        reply_to = await self._author_of(e.tweet_id, e.meta.actor_id, "delete")
        await self.durable.delete_tweet(e.tweet_id, e.author_id, reply_to, e.meta.occurred_at)
        return await self.timelines.delete(e.tweet_id, e.author_id, reply_to)
