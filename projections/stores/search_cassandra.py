"""Cassandra: the search index (infra/migrations/0003_search.cql). Postings are upserts and deletes
stamped with their event's time (USING TIMESTAMP), so a replayed or redelivered event rewrites the same
cells and a replayed post cannot bring back a posting its later delete removed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cassandra.cluster import Session

from infra.cassandra import BATCHING, RELAXED, Batching, execute, execute_unordered
from projections.search import Posting
from projections.stores.known import KNOWN_ROWS, KnownRows
from schemas.ids import MAX_ID, NODE_BITS, SEQ_BITS

BUCKET_MS = 24 * 3600 * 1000  # a day: a frequent term's partition holds one day of its postings
BUCKET_PAGE = 64  # bucket rows read at a time
MAX_PARALLEL = 16  # bucket partitions read at once when a term is sparse


def search_bucket(tweet_id: int) -> int:
    """The day of the id's creation time."""
    return (tweet_id >> (NODE_BITS + SEQ_BITS)) // BUCKET_MS


def _ts(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


class CassandraSearchStore:
    def __init__(
        self, session: Session, known_rows: int = KNOWN_ROWS, tables: str = "search", batching: Batching = BATCHING
    ) -> None:
        """`tables`: the family, `<tables>_postings` and `<tables>_term_buckets` (the public timeline keeps its
        postings in tables of the same shape, `public_*`)."""
        self.s = session
        self.batching = batching
        self.known_buckets = KnownRows(known_rows)  # (term, bucket) rows this process wrote
        p = session.prepare
        postings, buckets = f"{tables}_postings", f"{tables}_term_buckets"
        # A tweet's postings, one per term, are one statement: the terms are partition keys of an IN, so the
        # driver binds (and Cassandra parses) one statement per tweet, not one per term.
        self._add = p(f"UPDATE {postings} USING TIMESTAMP ? SET author_id = ? WHERE term IN ? AND bucket = ? "
                      "AND tweet_id = ?")  # fmt: skip
        self._remove = p(f"DELETE FROM {postings} USING TIMESTAMP ? WHERE term IN ? AND bucket = ? "
                         "AND tweet_id = ?")  # fmt: skip
        self._bucket = p(f"INSERT INTO {buckets} (term, bucket) VALUES (?, ?) USING TIMESTAMP ?")
        self._buckets = p(f"SELECT bucket FROM {buckets} WHERE term = ? AND bucket <= ? LIMIT ?")
        self._postings = p(f"SELECT tweet_id, author_id FROM {postings} WHERE term = ? AND bucket = ? "
                           "AND tweet_id < ? LIMIT ?")  # fmt: skip
        self._contents = p("SELECT tweet_id, content FROM tweets WHERE tweet_id IN ?")

    def writes(self) -> CassandraSearchWrites:
        return CassandraSearchWrites(self)

    async def postings(self, term: str, before: int | None, limit: int) -> list[Posting]:
        """Walks the term's days newest first; while they come back short (a sparse term) it reads
        more days at once, 1, 2, 4... up to MAX_PARALLEL."""
        bound = before or MAX_ID
        out: list[Posting] = []
        top = search_bucket(bound)
        width = 1
        buckets: list[int] = []
        more_buckets = True
        while len(out) < limit:
            if len(buckets) < width and more_buckets:
                rows = await execute(self.s, self._buckets, (term, top, BUCKET_PAGE), RELAXED)
                buckets += [r.bucket for r in rows]
                more_buckets = len(rows) == BUCKET_PAGE
                if rows:
                    top = rows[-1].bucket - 1
            if not buckets:
                break
            group, buckets = buckets[:width], buckets[width:]
            want = limit - len(out)
            pages = await asyncio.gather(
                *(execute(self.s, self._postings, (term, b, bound, want), RELAXED) for b in group)
            )
            for rows in pages:
                out += [Posting(r.tweet_id, r.author_id) for r in rows]
            width = min(width * 2, MAX_PARALLEL)
        return out[:limit]

    async def contents(self, tweet_ids: Sequence[int]) -> dict[int, str]:
        if not tweet_ids:
            return {}
        rows = await execute(self.s, self._contents, (list(tweet_ids),))
        return {r.tweet_id: r.content for r in rows if r.content is not None}


class CassandraSearchWrites:
    """One batch's postings, grouped by tweet (one statement for all of a tweet's terms), sent as unlogged
    batches, all in flight at once (timestamped, so order is moot)."""

    def __init__(self, store: CassandraSearchStore) -> None:
        self.c = store
        self.adds: dict[tuple[int, int, int], list[str]] = {}  # (tweet, author, timestamp) -> terms
        self.removes: dict[tuple[int, int], list[str]] = {}  # (tweet, timestamp) -> terms
        self.pending: list[tuple[Any, tuple[Any, ...]]] = []  # term days not known to be written
        self.buckets: set[tuple[str, int]] = set()  # written by this flush

    def add(self, term: str, tweet_id: int, author_id: int, at: datetime) -> None:
        ts = _ts(at)
        self.adds.setdefault((tweet_id, author_id, ts), []).append(term)
        key = (term, search_bucket(tweet_id))
        if key not in self.c.known_buckets and key not in self.buckets:  # one row per term and day
            self.pending.append((self.c._bucket, (term, key[1], ts)))
            self.buckets.add(key)

    def remove(self, term: str, tweet_id: int, at: datetime) -> None:
        self.removes.setdefault((tweet_id, _ts(at)), []).append(term)

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        add, remove = self.c._add, self.c._remove
        pending += [
            (add, (ts, author, terms, search_bucket(tweet), tweet)) for (tweet, author, ts), terms in self.adds.items()
        ]
        pending += [(remove, (ts, terms, search_bucket(tweet), tweet)) for (tweet, ts), terms in self.removes.items()]
        self.adds, self.removes = {}, {}
        await execute_unordered(self.c.s, pending, self.c.batching)
        self.c.known_buckets.remember(self.buckets)
        self.buckets = set()
