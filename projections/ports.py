"""The store interfaces the projector and the read side depend on (one per read model).

Writes go through a unit of work: the projector queues the changes of a whole batch of events,
then `flush()` sends them in as few round trips as the technology allows. Queuing does no I/O,
so a batch is planned completely (rules checked) before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from projections.model import TimelinePage, Trend, TweetView, UserView
from schemas.events import Event

Authors = dict[int, tuple[int, int | None]]  # tweet id -> (author, reply_to), for edits and deletes


class DurableWrites(Protocol):
    def stamp(self, ts: int | None) -> None:
        """The write timestamp (microseconds) of what the next event writes; None: the event's own time."""
        ...

    """Changes to the durable projections, queued; each is an upsert stamped with its event time."""

    def save_user(self, user: UserView, at: datetime) -> None: ...
    def save_tweet(self, t: TweetView) -> None: ...
    def edit_tweet(self, tweet_id: int, content: str, at: datetime) -> None: ...
    def delete_tweet(self, tweet_id: int, author_id: int, reply_to: int | None, at: datetime) -> None: ...
    def follow(self, follower: int, followee: int, at: datetime) -> None: ...
    def unfollow(self, follower: int, followee: int, at: datetime) -> None: ...
    def like(self, tweet_id: int, user_id: int, liked: bool, at: datetime) -> None: ...
    async def flush(self) -> None: ...


class DurableProjections(Protocol):
    """Users, tweets, the user timeline, the follow graph, replies and likes (Cassandra)."""

    def writes(self) -> DurableWrites: ...
    async def tweets(self, ids: Sequence[int]) -> dict[int, TweetView]: ...


class TimelineWrites(Protocol):
    """Changes to home timelines, the fan-out graph and the hydration cache, queued in log order."""

    def save_user(self, user_id: int, handle: str, display_name: str) -> None: ...
    def post(self, t: TweetView) -> None: ...
    def edit(self, tweet_id: int, content: str, edited_at: datetime, author_id: int | None = None) -> None: ...
    def delete(self, tweet_id: int, author_id: int, reply_to: int | None) -> None: ...
    def follow(self, follower: int, followee: int) -> None: ...
    def unfollow(self, follower: int, followee: int) -> None: ...
    def like(self, tweet_id: int, user_id: int, liked: bool) -> None: ...
    async def flush(self) -> int:
        """Applies the queued changes in order; returns the home-timeline deliveries they made."""
        ...


class Timelines(Protocol):
    """Home timelines, the fan-out graph and the hydration cache (Redis)."""

    def writes(self) -> TimelineWrites: ...
    async def authors(self, tweet_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        """(author, reply_to) of the tweets the cache knows, for rules and deletes."""
        ...

    async def handle_owners(self, handle_keys: Sequence[str]) -> dict[str, int]:
        """Who holds each (lower-cased) handle in this read model: the first registration projected."""
        ...

    async def handles_from(self, prefix: str, limit: int) -> list[int]:
        """The users whose handle starts with `prefix` (case-insensitive), in handle order, at most `limit`."""
        ...

    async def read(self, user_id: int, before: int | None, limit: int) -> TimelinePage | None: ...
    async def rebuild(self, user_id: int) -> bool: ...


class ProjectionWrites(Protocol):
    """One batch's changes to a further read model fed by the same events (search, trends, notifications)."""

    def apply(self, event: Event, authors: Authors) -> None:
        """Queues what `event` changes (no I/O). Called only for events the rules accepted, in log order;
        `authors` knows the author and reply_to of every tweet the batch posts, edits or deletes."""
        ...

    async def flush(self) -> None: ...


class Projection(Protocol):
    """A further read model. It is written after the durable projections and before the home timelines."""

    def writes(self) -> ProjectionWrites: ...


class TrendsReader(Protocol):
    """The top hashtags of a window (Redis time buckets, projections/stores/redis_trends.py)."""

    async def top(self, window: str, now: datetime, limit: int) -> list[Trend]: ...
