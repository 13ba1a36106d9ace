"""Applies events to the read models. Dispatches on the event type; knows nothing of Kafka.

A batch of events is planned first (rules checked, changes queued in log order), then written:
the durable projection first, then Redis, so a reader that falls through from Redis to Cassandra
never finds less there. Within the fan-out script the author's own recent-tweets list is written
before the follower set is read. Every change is idempotent, so an event applied twice
(redelivery, replay) leaves the same state, and a batch that failed half-way can be re-applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from projections.model import TweetView, UserView
from projections.ports import Authors, DurableProjections, DurableWrites, Projection, Timelines, TimelineWrites
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


@dataclass
class Outcome:
    """What a batch did: deliveries into home timelines, the events refused (index -> reason), and when its
    timelines were written (a read shows its tweets from then on; the durable writes may still be running)."""

    deliveries: int = 0
    violations: dict[int, str] = field(default_factory=dict)
    visible_at: datetime | None = None


class Projector:
    def __init__(self, durable: DurableProjections, timelines: Timelines, extras: Sequence[Projection] = ()) -> None:
        self.durable = durable
        self.timelines = timelines
        self.extras = tuple(extras)

    async def apply(self, event: Event) -> int:
        """One event alone; raises RuleViolation if it is refused. Returns its deliveries."""
        outcome = await self.apply_batch([event])
        if outcome.violations:
            raise RuleViolation(outcome.violations[0])
        return outcome.deliveries

    async def apply_batch(self, events: Sequence[Event], stamps: Sequence[int] | None = None) -> Outcome:
        """Projects events in order: refused ones are reported, the rest written in two flushes. `stamps`
        (one per event, from the log: projections/logclock.py) time the durable writes; without them each
        event's own time does."""
        authors = await self._known_authors(events)
        owners = await self.timelines.handle_owners(
            sorted({e.handle.lower() for e in events if isinstance(e, UserRegistered)})
        )
        durable, timelines = self.durable.writes(), self.timelines.writes()
        extras = [x.writes() for x in self.extras]
        outcome = Outcome()
        for i, event in enumerate(events):
            durable.stamp(stamps[i] if stamps is not None else None)
            try:
                self._plan(event, authors, owners, durable, timelines)
            except RuleViolation as exc:
                outcome.violations[i] = str(exc)
                continue
            for x in extras:
                x.apply(event, authors)

        async def timelines_written() -> int:
            """The timelines' flush, noting when it ended: reads show the batch's tweets from then on."""
            deliveries = await timelines.flush()
            outcome.visible_at = datetime.now(UTC)
            return deliveries

        # The read models are independent (Cassandra's tables, the timelines in Redis, the side projections):
        # their writes overlap, and the batch counts as applied only when every one has finished.
        done = await asyncio.gather(
            timelines_written(), durable.flush(), *(x.flush() for x in extras), return_exceptions=True
        )
        failed = [r for r in done if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        outcome.deliveries = cast(int, done[0])
        return outcome

    async def _known_authors(self, events: Sequence[Event]) -> Authors:
        """Authors of the tweets the batch edits or deletes but does not post: the cache, then Cassandra."""
        posted = {e.tweet_id for e in events if isinstance(e, TweetPosted)}
        wanted = sorted({e.tweet_id for e in events if isinstance(e, TweetEdited | TweetDeleted)} - posted)
        if not wanted:
            return {}
        found = await self.timelines.authors(wanted)
        missing = [t for t in wanted if t not in found]
        if missing:
            rows = await self.durable.tweets(missing)
            found.update({t: (v.author_id, v.reply_to) for t, v in rows.items()})
        return found

    def _plan(self, event: Event, authors: Authors, owners: dict[str, int], d: DurableWrites,
              tl: TimelineWrites) -> None:  # fmt: skip
        match event:
            case TweetPosted():
                self._posted(event, authors, d, tl)
            case TweetEdited():
                self._check_author(event.tweet_id, event.meta.actor_id, authors, "edit")
                d.edit_tweet(event.tweet_id, event.content, event.meta.occurred_at)
                tl.edit(event.tweet_id, event.content, event.meta.occurred_at, event.meta.actor_id)
            case TweetDeleted():
                author = event.meta.actor_id  # checked: the actor is the tweet's author
                reply_to = self._check_author(event.tweet_id, author, authors, "delete")
                d.delete_tweet(event.tweet_id, author, reply_to, event.meta.occurred_at)
                tl.delete(event.tweet_id, author, reply_to)
            case UserFollowed():
                d.follow(event.follower_id, event.followee_id, event.meta.occurred_at)
                tl.follow(event.follower_id, event.followee_id)
            case UserUnfollowed():
                d.unfollow(event.follower_id, event.followee_id, event.meta.occurred_at)
                tl.unfollow(event.follower_id, event.followee_id)
            case TweetLiked() | TweetUnliked():
                liked = isinstance(event, TweetLiked)
                d.like(event.tweet_id, event.user_id, liked, event.meta.occurred_at)
                tl.like(event.tweet_id, event.user_id, liked)
            case UserRegistered():
                holder = owners.setdefault(event.handle.lower(), event.user_id)
                if holder != event.user_id:  # the API's claim makes this impossible; the log is the judge
                    raise RuleViolation(f"handle {event.handle!r} is held by user {holder}, not {event.user_id}")
                d.save_user(UserView(event.user_id, event.handle, event.display_name), event.meta.occurred_at)
                tl.save_user(event.user_id, event.handle, event.display_name)

    @staticmethod
    def _posted(e: TweetPosted, authors: Authors, d: DurableWrites, tl: TimelineWrites) -> None:
        if e.author_id != e.meta.actor_id:
            raise RuleViolation(f"tweet {e.tweet_id} posted by {e.meta.actor_id} for author {e.author_id}")
        tweet = TweetView(e.tweet_id, e.author_id, e.content, e.meta.occurred_at, e.reply_to, media=e.media)
        d.save_tweet(tweet)
        tl.post(tweet)
        authors.setdefault(e.tweet_id, (e.author_id, e.reply_to))  # later edits in this batch may name it

    @staticmethod
    def _check_author(tweet_id: int, actor: int, authors: Authors, what: str) -> int | None:
        """The tweet's reply_to, once the actor is known to be its author."""
        known = authors.get(tweet_id)
        if known is None:
            raise RuleViolation(f"{what} of unknown tweet {tweet_id}")
        author, reply_to = known
        if author != actor:
            raise RuleViolation(f"{what} of tweet {tweet_id} by {actor}, who is not its author {author}")
        return reply_to
