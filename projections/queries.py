"""The read side: pages of tweets and users, hydrated in one round trip per store.

A home timeline page comes from Redis (the materialized timeline plus celebrity accounts merged
in, read and hydrated by one script call). Redis is exact above its horizon; below it the page
continues from Cassandra by fan-out on read, so the timeline cap is invisible to clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from projections.model import TweetView, UserView
from projections.stores.cassandra import LOG_BUCKETS, CassandraProjections
from projections.stores.redis import RedisTimelines

MAX_ROUNDS = 5


@dataclass(frozen=True)
class Page:
    tweets: list[TweetView]
    next_before: int | None
    rebuilt: bool = False
    after: int | None = None  # the exclusive lower bound asked for (`since` polling), if any


@dataclass(frozen=True)
class Profile:
    user: UserView
    followers: int
    following: int


def _above(entries: list[tuple[int, int]], after: int | None) -> list[tuple[int, int]]:
    """The entries (newest first) newer than `after`."""
    return entries if after is None else [e for e in entries if e[0] > after]


class Queries:
    def __init__(
        self, timelines: RedisTimelines, durable: CassandraProjections, log_buckets: int = LOG_BUCKETS
    ) -> None:
        self.tl = timelines
        self.db = durable
        self.log_buckets = log_buckets

    async def home(self, user_id: int, before: int | None, limit: int, after: int | None = None) -> Page:
        """The newest `limit` entries below `before`, and only those newer than `after` when it is given
        (polling: one Redis round trip when `after` is above the Redis horizon, as it is for recent ones).
        Work is bounded: a few rounds (deleted tweets are skipped), each reading Cassandra a few buckets
        deep; a page that ends short of `limit` that way still carries the cursor to go on from."""
        rebuilt = False
        collected: list[TweetView] = []
        cursor = before
        more: int | None = None  # where the next page starts if this one ends short
        for _ in range(MAX_ROUNDS):
            want = limit + 1 - len(collected)
            entries, cached, fresh, floor = await self._home_entries(user_id, cursor, want, after)
            rebuilt = rebuilt or fresh
            if entries:
                views = await self.hydrate(entries, cached)
                collected.extend(v for v in views if not v.deleted)
            if len(collected) > limit:
                break
            if len(entries) < want:  # this bound reached what the stores hold, or as deep as one round reads
                more = floor if floor is not None and floor > (after or 0) else None
                if more is None:
                    break
                cursor = floor
            else:
                cursor = more = entries[-1][0]
        page = self._page(collected, limit, rebuilt)
        if page.next_before is None and more is not None:
            page = replace(page, next_before=more)
        return replace(page, after=after) if after else page

    async def _home_entries(
        self, user_id: int, before: int | None, want: int, after: int | None = None
    ) -> tuple[list[tuple[int, int]], dict[int, TweetView], bool, int | None]:
        """Up to `want` entries below `before` (and above `after`), the views Redis had of them, whether this
        rebuilt, and the bound below which Cassandra was not read (None: nothing older)."""
        rebuilt = False
        found = await self.tl.home_page(user_id, before, want, after)
        if found is None:
            rebuilt = await self.tl.rebuild(user_id)
            found = await self.tl.home_page(user_id, before, want, after)
        if found is None:  # expired again at once: serve from the durable store
            entries, floor = await self.db.home_from_log(user_id, before, want, self.log_buckets)
            return _above(entries, after), {}, rebuilt, floor
        page, cached = found
        entries = [e for e in page.entries if e[0] > page.horizon][:want]
        floor = None
        if len(entries) < want and page.horizon > 0 and (after or 0) < page.horizon:
            bound = page.horizon + 1 if before is None else min(before, page.horizon + 1)
            older, floor = await self.db.home_from_log(user_id, bound, want - len(entries), self.log_buckets)
            entries += _above(older, after)
        return entries, cached, rebuilt, floor

    async def user_tweets(self, author_id: int, before: int | None, limit: int) -> Page:
        ids = await self.db.user_tweets(author_id, before, limit + 1)
        views = await self.hydrate([(t, author_id) for t in ids])
        return self._page([v for v in views if not v.deleted], limit)

    async def user_tweets_window(
        self, author_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool = False
    ) -> tuple[list[TweetView], bool]:
        """An author's tweets strictly between `after` and `before` (either may be None), at most `limit`, in
        the order asked; and whether more lie beyond the last (deleted ones are left out)."""
        ids = await self.db.user_tweets_window(author_id, before, after, limit + 1, oldest_first)
        views = await self.hydrate([(t, author_id) for t in ids[:limit]])
        return [v for v in views if not v.deleted], len(ids) > limit

    async def graph_window(
        self, table: str, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool = False
    ) -> tuple[list[UserView], bool]:
        """The `followers` (or `following`) of a user between two user ids, and whether more lie beyond."""
        ids = await self.db.graph_window(table, user_id, before, after, limit + 1, oldest_first)
        return await self.users(ids[:limit]), len(ids) > limit

    async def is_following(self, follower: int, followee: int) -> bool:
        """Whether the durable follow graph has the edge (the read model: a follow just accepted may lag)."""
        return await self.db.following(follower, followee + 1, 1) == [followee]

    async def home_window(
        self, user_id: int, before: int | None, after: int | None, limit: int
    ) -> tuple[list[TweetView], bool]:
        """A home timeline's entries strictly between `after` and `before`, newest first, and whether more lie
        below the last."""
        page = await self.home(user_id, before, limit, after)
        return page.tweets, page.next_before is not None

    async def likes_window(
        self, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool = False
    ) -> tuple[list[TweetView], bool]:
        """The tweets a user likes (by tweet id) strictly between `after` and `before`, in the order asked, and
        whether more lie beyond (deleted ones are left out)."""
        ids = await self.db.likes_window(user_id, before, after, limit + 1, oldest_first)
        found = await self.db.tweets(ids[:limit]) if ids else {}
        views = await self.hydrate([(t, found[t].author_id) for t in ids[:limit] if t in found])
        return [v for v in views if not v.deleted], len(ids) > limit

    async def authors(self, tweet_ids: Sequence[int]) -> dict[int, int]:
        """The author of each tweet found (the Redis cache, then the durable tweets)."""
        found = {t: a for t, (a, _) in (await self.tl.authors(tweet_ids)).items()}
        missing = [t for t in tweet_ids if t not in found]
        if missing:
            found.update({t: v.author_id for t, v in (await self.db.tweets(missing)).items()})
        return found

    async def liked(self, user_id: int, tweet_ids: Sequence[int]) -> set[int]:
        return await self.db.liked(user_id, tweet_ids)

    async def versions(self, tweet_id: int, limit: int = 100) -> list[tuple[datetime, str]]:
        """The texts a tweet has had, oldest first (see CassandraProjections.versions)."""
        return await self.db.versions(tweet_id, limit)

    async def replies(self, tweet_id: int, before: int | None, limit: int) -> Page:
        ids = await self.db.replies(tweet_id, before, limit + 1)
        found = await self.db.tweets(ids) if ids else {}
        pairs = [(t, found[t].author_id) for t in ids if t in found]
        views = await self.hydrate(pairs)
        return self._page([v for v in views if not v.deleted], limit)

    async def tweet(self, tweet_id: int) -> TweetView | None:
        author, _ = await self.tl.reply_to_of(tweet_id)
        if author is None:
            row = (await self.db.tweets([tweet_id])).get(tweet_id)
            if row is None:
                return None
            author = row.author_id
        views = await self.hydrate([(tweet_id, author)])
        return views[0] if views and not views[0].deleted else None

    async def profile(self, user_id: int) -> Profile | None:
        users = await self.users([user_id])
        if not users:
            return None
        followers, following = await self.tl.counts(user_id)
        return Profile(users[0], followers, following)

    async def followers(self, user_id: int, before: int | None, limit: int) -> tuple[list[UserView], int | None]:
        ids = await self.db.followers(user_id, before, limit + 1)
        return await self.users(ids[:limit]), (ids[limit - 1] if len(ids) > limit else None)

    async def following(self, user_id: int, before: int | None, limit: int) -> tuple[list[UserView], int | None]:
        ids = await self.db.following(user_id, before, limit + 1)
        return await self.users(ids[:limit]), (ids[limit - 1] if len(ids) > limit else None)

    async def ids_by_handle_prefix(self, prefix: str, limit: int) -> list[int]:
        """Accounts whose handle starts with `prefix`, in handle order (account search)."""
        return await self.tl.handles_from(prefix, limit)

    async def users(self, ids: Sequence[int]) -> list[UserView]:
        found = await self.tl.users(ids)
        missing = [u for u in ids if u not in found]
        if missing:
            found.update(await self.db.users(missing))
        return [found[u] for u in ids if u in found]

    async def hydrate(
        self, pairs: Sequence[tuple[int, int]], cached: dict[int, TweetView] | None = None
    ) -> list[TweetView]:
        """Views in the order given: those in `cached` (already read from Redis), then Redis, then
        Cassandra for anything Redis has not got."""
        found = dict(cached or {})
        rest = [p for p in pairs if p[0] not in found]
        if rest:
            found.update(await self.tl.hydrate(rest))
        missing = [t for t, _ in rest if t not in found]
        if missing:
            found.update(await self.db.tweets(missing))
        no_author = {v.author_id for v in found.values() if v.author is None}
        if no_author:
            authors = {u.user_id: u for u in await self.users(sorted(no_author))}
            for t, v in list(found.items()):
                if v.author is None and v.author_id in authors:
                    found[t] = replace(v, author=authors[v.author_id])
        return [found[t] for t, _ in pairs if t in found]

    @staticmethod
    def _page(tweets: list[TweetView], limit: int, rebuilt: bool = False) -> Page:
        page = tweets[:limit]
        more = len(tweets) > limit and bool(page)
        return Page(page, page[-1].tweet_id if more else None, rebuilt)
