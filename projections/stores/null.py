"""Stores that write nothing, for passes that must not change a location: a rebuild of timelines leaves the
durable projections alone, a rebuild of the durable projections leaves Redis alone, and the worker writes a
location shared by several versions only once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from projections.model import TimelinePage, TweetView, UserView
from projections.ports import DurableProjections


class NoDurableWrites:
    def stamp(self, ts: int | None) -> None: ...

    def save_user(self, user: UserView, at: datetime) -> None: ...
    def save_tweet(self, t: TweetView) -> None: ...
    def edit_tweet(self, tweet_id: int, content: str, at: datetime) -> None: ...
    def delete_tweet(self, tweet_id: int, author_id: int, reply_to: int | None, at: datetime) -> None: ...
    def follow(self, follower: int, followee: int, at: datetime) -> None: ...
    def unfollow(self, follower: int, followee: int, at: datetime) -> None: ...
    def like(self, tweet_id: int, user_id: int, liked: bool, at: datetime) -> None: ...
    async def flush(self) -> None: ...


class ReadOnlyDurable:
    """Cassandra for lookups (the author of a tweet an edit names), never for writes."""

    def __init__(self, store: DurableProjections) -> None:
        self.store = store

    def writes(self) -> NoDurableWrites:
        return NoDurableWrites()

    async def tweets(self, ids: Sequence[int]) -> dict[int, TweetView]:
        return await self.store.tweets(ids)


class NoTimelineWrites:
    def save_user(self, user_id: int, handle: str, display_name: str) -> None: ...
    def post(self, t: TweetView) -> None: ...
    def edit(self, tweet_id: int, content: str, edited_at: datetime, author_id: int | None = None) -> None: ...
    def delete(self, tweet_id: int, author_id: int, reply_to: int | None) -> None: ...
    def follow(self, follower: int, followee: int) -> None: ...
    def unfollow(self, follower: int, followee: int) -> None: ...
    def like(self, tweet_id: int, user_id: int, liked: bool) -> None: ...

    async def flush(self) -> int:
        return 0


class NoTimelines:
    """Knows no tweet, so the projector looks authors up in the durable projections it is given."""

    def writes(self) -> NoTimelineWrites:
        return NoTimelineWrites()

    async def authors(self, tweet_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        return {}

    async def handle_owners(self, handle_keys: Sequence[str]) -> dict[str, int]:
        return {}

    async def handles_from(self, prefix: str, limit: int) -> list[int]:
        return []

    async def read(self, user_id: int, before: int | None, limit: int) -> TimelinePage | None:
        return None

    async def rebuild(self, user_id: int) -> bool:
        return False
