"""Index rows a process has written already, so that each is written once: one per author and month
(user_tweet_buckets), user and month (notification_buckets), term and day (search_buckets).

The memory is bounded: when full it starts over, and a row written again is an idempotent upsert, so
forgetting costs a few redundant writes, never a wrong answer. Without the bound the set grows with every
new term of every day (about 150 bytes each): the worker's memory rose by ~30 MB an hour in a soak of
random words until this bound was put in."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

KNOWN_ROWS = 100_000  # ~15 MB at most per store


class KnownRows:
    __slots__ = ("limit", "rows")

    def __init__(self, limit: int = KNOWN_ROWS) -> None:
        self.limit = limit
        self.rows: set[Hashable] = set()

    def __contains__(self, row: Hashable) -> bool:
        return row in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def remember(self, rows: Iterable[Hashable]) -> None:
        """Rows a flush has just written (call it after the writes succeeded)."""
        new = set(rows)
        if len(self.rows) + len(new) > self.limit:
            self.rows = set()
        self.rows |= new
