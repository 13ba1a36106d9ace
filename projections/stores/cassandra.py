"""Cassandra: the durable projections. Writes carry the event's time (USING TIMESTAMP), so a
replayed or redelivered event rewrites the same cells and an older event never overwrites a
newer one; deletes leave tombstones that older replays cannot resurrect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session

from infra.cassandra import BATCHING, Batching, execute, execute_unordered
from projections.model import TweetView, UserView
from projections.stores.known import KNOWN_ROWS, KnownRows
from projections.timeline import Entry, bucket_of, bucket_start, merge_newest
from schemas.codec import media_record
from schemas.events import Media

LOG_BUCKETS = 3  # 30-day buckets per author a home page reads below the Redis horizon (a setting)


def _ts(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


class CassandraProjections:
    def __init__(self, session: Session, known_rows: int = KNOWN_ROWS, batching: Batching = BATCHING) -> None:
        self.s = session
        self.batching = batching
        self.known_buckets = KnownRows(known_rows)  # (author, bucket) rows this process wrote
        p = session.prepare
        self._user = p("INSERT INTO users (user_id, handle, display_name, created_at) VALUES (?, ?, ?, ?) "
                       "USING TIMESTAMP ?")  # fmt: skip
        self._tweet = p("INSERT INTO tweets (tweet_id, author_id, content, reply_to, media, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?")  # fmt: skip
        self._user_tweet = p("INSERT INTO user_tweets (author_id, bucket, tweet_id) VALUES (?, ?, ?) USING TIMESTAMP ?")
        self._bucket = p("INSERT INTO user_tweet_buckets (author_id, bucket) VALUES (?, ?)")
        self._reply = p("INSERT INTO replies (tweet_id, reply_id) VALUES (?, ?) USING TIMESTAMP ?")
        self._edit = p("UPDATE tweets USING TIMESTAMP ? SET content = ?, edited_at = ? WHERE tweet_id = ?")
        self._edit_log = p("INSERT INTO tweet_edits (tweet_id, edited_at, content) VALUES (?, ?, ?)")
        # A post's own text is the first version in the edit history (Mastodon's status history shows it).
        self._first_version = p("INSERT INTO tweet_edits (tweet_id, edited_at, content) VALUES (?, ?, ?) "
                                "USING TIMESTAMP ?")  # fmt: skip
        self._versions = p("SELECT edited_at, content FROM tweet_edits WHERE tweet_id = ? ORDER BY edited_at ASC "
                           "LIMIT ?")  # fmt: skip
        self._delete = p("UPDATE tweets USING TIMESTAMP ? SET deleted = true WHERE tweet_id = ?")
        self._unuser_tweet = p("DELETE FROM user_tweets USING TIMESTAMP ? WHERE author_id = ? AND bucket = ? "
                               "AND tweet_id = ?")  # fmt: skip
        self._unreply = p("DELETE FROM replies USING TIMESTAMP ? WHERE tweet_id = ? AND reply_id = ?")
        self._follower = p("INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?")
        self._following = p("INSERT INTO following (user_id, followee_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?")
        self._unfollower = p("DELETE FROM followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?")
        self._unfollowing = p("DELETE FROM following USING TIMESTAMP ? WHERE user_id = ? AND followee_id = ?")
        self._like = p("INSERT INTO tweet_likes (tweet_id, user_id, liked_at) VALUES (?, ?, ?) USING TIMESTAMP ?")
        self._unlike = p("DELETE FROM tweet_likes USING TIMESTAMP ? WHERE tweet_id = ? AND user_id = ?")
        self._user_like = p("INSERT INTO user_likes (user_id, tweet_id, liked_at) VALUES (?, ?, ?) USING TIMESTAMP ?")
        self._user_unlike = p("DELETE FROM user_likes USING TIMESTAMP ? WHERE user_id = ? AND tweet_id = ?")
        self._liked = p("SELECT tweet_id FROM user_likes WHERE user_id = ? AND tweet_id IN ?")
        self._likes_window = {
            asc: p("SELECT tweet_id FROM user_likes WHERE user_id = ? AND tweet_id < ? AND tweet_id > ? "
                   f"ORDER BY tweet_id {'ASC' if asc else 'DESC'} LIMIT ?")
            for asc in (False, True)
        }  # fmt: skip
        self._get_tweets = p("SELECT tweet_id, author_id, content, reply_to, media, created_at, edited_at, deleted "
                             "FROM tweets WHERE tweet_id IN ?")  # fmt: skip
        self._get_users = p("SELECT user_id, handle, display_name FROM users WHERE user_id IN ?")
        self._account = p("SELECT user_id FROM accounts WHERE user_id = ?")
        self._buckets = p("SELECT bucket FROM user_tweet_buckets WHERE author_id = ? AND bucket <= ?")
        self._bucket_tweets = p("SELECT tweet_id FROM user_tweets WHERE author_id = ? AND bucket = ? AND tweet_id < ? "
                                "LIMIT ?")  # fmt: skip
        self._followers = p("SELECT follower_id FROM followers WHERE user_id = ? AND follower_id < ? LIMIT ?")
        self._followings = p("SELECT followee_id FROM following WHERE user_id = ? AND followee_id < ? LIMIT ?")
        # Windows (the Mastodon API's since_id and min_id): between two ids, newest or oldest first.
        self._buckets_up = p("SELECT bucket FROM user_tweet_buckets WHERE author_id = ? AND bucket >= ? "
                             "AND bucket <= ? ORDER BY bucket ASC")  # fmt: skip
        self._bucket_window = {
            asc: p("SELECT tweet_id FROM user_tweets WHERE author_id = ? AND bucket = ? AND tweet_id < ? "
                   f"AND tweet_id > ? ORDER BY tweet_id {'ASC' if asc else 'DESC'} LIMIT ?")
            for asc in (False, True)
        }  # fmt: skip
        self._graph_window = {
            (table, asc): p(f"SELECT {col} FROM {table} WHERE user_id = ? AND {col} < ? AND {col} > ? "
                            f"ORDER BY {col} {'ASC' if asc else 'DESC'} LIMIT ?")
            for table, col in (("followers", "follower_id"), ("following", "followee_id")) for asc in (False, True)
        }  # fmt: skip
        self._replies = p("SELECT reply_id FROM replies WHERE tweet_id = ? AND reply_id < ? LIMIT ?")

    def writes(self) -> CassandraWrites:
        return CassandraWrites(self)

    # Reads ----------------------------------------------------------------------------------------

    async def tweets(self, ids: Sequence[int]) -> dict[int, TweetView]:
        if not ids:
            return {}
        rows = await execute(self.s, self._get_tweets, (list(ids),))
        return {r.tweet_id: _tweet(r) for r in rows if r.author_id is not None}

    async def users(self, ids: Sequence[int]) -> dict[int, UserView]:
        if not ids:
            return {}
        rows = await execute(self.s, self._get_users, (list(ids),))
        return {r.user_id: UserView(r.user_id, r.handle, r.display_name) for r in rows if r.handle is not None}

    async def account_exists(self, user_id: int) -> bool:
        return bool(await execute(self.s, self._account, (user_id,)))

    async def user_tweets(self, author_id: int, before: int | None, limit: int) -> list[int]:
        """An author's tweets, newest first, below `before`, walking the 30-day buckets."""
        bound = before or (1 << 63) - 1
        buckets = await execute(self.s, self._buckets, (author_id, bucket_of(bound)))
        out: list[int] = []
        for row in buckets:
            if len(out) >= limit:
                break
            rows = await execute(self.s, self._bucket_tweets, (author_id, row.bucket, bound, limit - len(out)))
            out.extend(r.tweet_id for r in rows)
        return out

    async def user_tweets_window(
        self, author_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool
    ) -> list[int]:
        """An author's tweet ids strictly between `after` and `before`, newest first or oldest first."""
        high, low = before or (1 << 63) - 1, after or 0
        if oldest_first:
            buckets = await execute(self.s, self._buckets_up, (author_id, bucket_of(low), bucket_of(high)))
        else:
            buckets = [b for b in await execute(self.s, self._buckets, (author_id, bucket_of(high)))
                       if b.bucket >= bucket_of(low)]  # fmt: skip
        out: list[int] = []
        for row in buckets:
            if len(out) >= limit:
                break
            rows = await execute(self.s, self._bucket_window[oldest_first],
                                 (author_id, row.bucket, high, low, limit - len(out)))  # fmt: skip
            out.extend(r.tweet_id for r in rows)
        return out

    async def graph_window(
        self, table: str, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool
    ) -> list[int]:
        """Ids of `followers` (or `following`) of a user strictly between `after` and `before`."""
        rows = await execute(self.s, self._graph_window[(table, oldest_first)],
                             (user_id, before or (1 << 63) - 1, after or 0, limit))  # fmt: skip
        return [r[0] for r in rows]

    async def versions(self, tweet_id: int, limit: int) -> list[tuple[datetime, str]]:
        """A tweet's texts, oldest first: as posted (recorded since 2026-12; older tweets start at their first
        edit), then each edit."""
        rows = await execute(self.s, self._versions, (tweet_id, limit))
        return [(r.edited_at.replace(tzinfo=UTC), r.content) for r in rows]

    async def liked(self, user_id: int, tweet_ids: Sequence[int]) -> set[int]:
        """Which of the tweets the user likes."""
        if not tweet_ids:
            return set()
        return {r.tweet_id for r in await execute(self.s, self._liked, (user_id, list(tweet_ids)))}

    async def likes_window(
        self, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool
    ) -> list[int]:
        """Ids of the tweets a user likes strictly between `after` and `before`, by tweet id."""
        rows = await execute(self.s, self._likes_window[oldest_first],
                             (user_id, before or (1 << 63) - 1, after or 0, limit))  # fmt: skip
        return [r.tweet_id for r in rows]

    async def followers(self, user_id: int, before: int | None, limit: int) -> list[int]:
        rows = await execute(self.s, self._followers, (user_id, before or (1 << 63) - 1, limit))
        return [r.follower_id for r in rows]

    async def following(self, user_id: int, before: int | None, limit: int) -> list[int]:
        rows = await execute(self.s, self._followings, (user_id, before or (1 << 63) - 1, limit))
        return [r.followee_id for r in rows]

    async def replies(self, tweet_id: int, before: int | None, limit: int) -> list[int]:
        rows = await execute(self.s, self._replies, (tweet_id, before or (1 << 63) - 1, limit))
        return [r.reply_id for r in rows]

    async def home_from_log(
        self, user_id: int, before: int | None, limit: int, buckets: int = LOG_BUCKETS
    ) -> tuple[list[tuple[int, int]], int | None]:
        """Fan-out on read: the newest tweets of the user and everyone they follow, below `before`, looking no
        further back than `buckets` 30-day buckets; and the bound below which it did not look (a cursor to go
        on from), or None when no author has anything older. So an old cursor costs at most `buckets` reads
        per author (and one for its list of buckets), however sparse their tweets."""
        authors = [user_id]
        cursor: int | None = None
        while True:
            page = await self.following(user_id, cursor, 5000)
            authors.extend(page)
            if len(page) < 5000:
                break
            cursor = page[-1]
        bound = before or (1 << 63) - 1
        sem = asyncio.Semaphore(64)

        async def buckets_of(author: int) -> list[int]:
            async with sem:
                return [r.bucket for r in await execute(self.s, self._buckets, (author, bucket_of(bound)))]

        held = await asyncio.gather(*(buckets_of(a) for a in authors))  # newest first
        top = max((b[0] for b in held if b), default=None)
        if top is None:
            return [], None
        lowest = top - buckets + 1  # the window: the newest bucket any author has below the bound, and older

        async def recent(author: int, mine: list[int]) -> list[Entry]:
            out: list[Entry] = []
            for b in mine:
                if b < lowest or len(out) >= limit:
                    break
                async with sem:
                    rows = await execute(self.s, self._bucket_tweets, (author, b, bound, limit - len(out)))
                out.extend(Entry(r.tweet_id, author) for r in rows)
            return out

        found = await asyncio.gather(*(recent(a, mine) for a, mine in zip(authors, held, strict=True)))
        entries = [(e.tweet_id, e.author_id) for e in merge_newest(found, limit, before)]
        older = any(mine and mine[-1] < lowest for mine in held)
        return entries, (bucket_start(lowest) if older else None)


def _tweet(r: Any) -> TweetView:
    media = tuple(Media(**m) for m in json.loads(r.media)) if r.media else ()
    created = r.created_at.replace(tzinfo=UTC) if r.created_at else datetime.now(UTC)
    edited = r.edited_at.replace(tzinfo=UTC) if r.edited_at else None
    return TweetView(r.tweet_id, r.author_id, r.content, created, r.reply_to, edited, media, bool(r.deleted))


class CassandraWrites:
    """One batch of events' writes. Every statement is an upsert or delete stamped with its place in the
    log (projections/logclock.py; the event's time when none is given), so their order does not matter:
    they go out as unlogged batches, all at once."""

    def __init__(self, store: CassandraProjections) -> None:
        self.c = store
        self.pending: list[tuple[Any, tuple[Any, ...]]] = []
        self.buckets: list[tuple[int, int]] = []  # known once the flush has written them
        self.stamped: int | None = None

    def stamp(self, ts: int | None) -> None:
        self.stamped = ts

    def _ts(self, at: datetime) -> int:
        return self.stamped if self.stamped is not None else _ts(at)

    def save_user(self, user: UserView, at: datetime) -> None:
        self.pending.append((self.c._user, (user.user_id, user.handle, user.display_name, at, self._ts(at))))

    def save_tweet(self, t: TweetView) -> None:
        ts = self._ts(t.created_at)
        media = json.dumps([media_record(m) for m in t.media]) if t.media else None
        bucket = bucket_of(t.tweet_id)
        add = self.pending.append
        add((self.c._tweet, (t.tweet_id, t.author_id, t.content, t.reply_to, media, t.created_at, ts)))
        add((self.c._first_version, (t.tweet_id, t.created_at, t.content, ts)))
        add((self.c._user_tweet, (t.author_id, bucket, t.tweet_id, ts)))
        if (t.author_id, bucket) not in self.c.known_buckets:  # one row per author and month: write it once
            add((self.c._bucket, (t.author_id, bucket)))
            self.buckets.append((t.author_id, bucket))
        if t.reply_to:
            add((self.c._reply, (t.reply_to, t.tweet_id, ts)))

    def edit_tweet(self, tweet_id: int, content: str, at: datetime) -> None:
        self.pending.append((self.c._edit, (self._ts(at), content, at, tweet_id)))
        self.pending.append((self.c._edit_log, (tweet_id, at, content)))

    def delete_tweet(self, tweet_id: int, author_id: int, reply_to: int | None, at: datetime) -> None:
        ts = self._ts(at)
        self.pending.append((self.c._delete, (ts, tweet_id)))
        self.pending.append((self.c._unuser_tweet, (ts, author_id, bucket_of(tweet_id), tweet_id)))
        if reply_to:
            self.pending.append((self.c._unreply, (ts, reply_to, tweet_id)))

    def follow(self, follower: int, followee: int, at: datetime) -> None:
        ts = self._ts(at)
        self.pending.append((self.c._follower, (followee, follower, at, ts)))
        self.pending.append((self.c._following, (follower, followee, at, ts)))

    def unfollow(self, follower: int, followee: int, at: datetime) -> None:
        ts = self._ts(at)
        self.pending.append((self.c._unfollower, (ts, followee, follower)))
        self.pending.append((self.c._unfollowing, (ts, follower, followee)))

    def like(self, tweet_id: int, user_id: int, liked: bool, at: datetime) -> None:
        if liked:
            self.pending.append((self.c._like, (tweet_id, user_id, at, self._ts(at))))
            self.pending.append((self.c._user_like, (user_id, tweet_id, at, self._ts(at))))
        else:
            self.pending.append((self.c._unlike, (self._ts(at), tweet_id, user_id)))
            self.pending.append((self.c._user_unlike, (self._ts(at), user_id, tweet_id)))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        await execute_unordered(self.c.s, pending, self.c.batching)
        self.c.known_buckets.remember(self.buckets)


class CassandraRegistryBackup:
    """The version registry's durable copy, in the configured keyspace (never a rebuilt one)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._all = session.prepare("SELECT name, body FROM read_model_versions")
        self._put = session.prepare("INSERT INTO read_model_versions (name, body) VALUES (?, ?)")
        self._drop = session.prepare("DELETE FROM read_model_versions WHERE name = ?")

    async def load(self) -> dict[str, str]:
        return {r.name: r.body for r in await execute(self.s, self._all)}

    async def save(self, rows: dict[str, str]) -> None:
        gone = set(await self.load()) - set(rows)
        pending = [(self._put, (k, v)) for k, v in rows.items()] + [(self._drop, (k,)) for k in gone]
        await execute_unordered(self.s, pending)
