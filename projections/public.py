"""The public timeline: every status that is not a reply, newest first (Mastodon's `/api/v1/timelines/public`; chirp
is one instance, and every status is public). A further read model fed by the same events, kept as postings under
one key in a store of the search index's shape (projections/search.py's SearchStore; Cassandra tables
`public_*`). As with search, a page is confirmed against the tweets as they are now, so a delete hides its
status at once, before its posting is removed.
"""

from __future__ import annotations

from projections.model import TweetView
from projections.ports import Authors
from projections.search import Hydrate, SearchStore, SearchWrites
from schemas.events import Event, TweetDeleted, TweetPosted

KEY = "local"
MAX_ROUNDS = 5  # reads per page; deleted statuses are skipped, so a page may need more than one


class PublicProjection:
    """The `Projection` the worker and replays feed (projections/factory.VersionStores.side_projections)."""

    def __init__(self, store: SearchStore, key: str = KEY) -> None:
        self.store = store
        self.key = key

    def writes(self) -> PublicWrites:
        return PublicWrites(self.store.writes(), self.key)


class PublicWrites:
    def __init__(self, writes: SearchWrites, key: str = KEY) -> None:
        self.w = writes
        self.key = key

    def apply(self, event: Event, authors: Authors) -> None:
        match event:
            case TweetPosted() if event.reply_to is None:
                self.w.add(self.key, event.tweet_id, event.author_id, event.meta.occurred_at)
            case TweetDeleted():
                self.w.remove(self.key, event.tweet_id, event.meta.occurred_at)

    async def flush(self) -> None:
        await self.w.flush()


class PublicQueries:
    def __init__(self, store: SearchStore, hydrate: Hydrate, key: str = KEY) -> None:
        self.store = store
        self.hydrate = hydrate
        self.key = key

    async def window(self, before: int | None, after: int | None, limit: int) -> tuple[list[TweetView], bool]:
        """Statuses strictly between `after` and `before`, newest first, at most `limit`; and whether more lie
        below the last."""
        found: list[TweetView] = []
        cursor = before
        for _ in range(MAX_ROUNDS):
            asked = limit + 1 - len(found)
            postings = await self.store.postings(self.key, cursor, asked)
            above = [p for p in postings if after is None or p.tweet_id > after]
            views = await self.hydrate([(p.tweet_id, p.author_id) for p in above])
            found += [v for v in views if not v.deleted]
            if len(found) > limit:
                return found[:limit], True
            if len(above) < asked:  # the store (or the lower bound) has no more
                return found, False
            cursor = above[-1].tweet_id
        return found, True
