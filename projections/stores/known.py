"""Index rows a process has written already, so that each is written once: one per author and month
(user_tweet_buckets), user and month (notification_buckets), term and day (search_buckets).

The memory is bounded: two generations of at most `limit / 2` rows each; a row found in the older one moves
to the newer, and when the newer is full the older is dropped. So hot rows (common terms, active authors)
stay and the rest are forgotten, and a forgotten row written again is an idempotent upsert: a redundant write,
never a wrong answer. Unbounded, this grew with every new term of every day (about 150 bytes each): the
worker's memory rose by ~30 MB an hour in a soak that posts a new word in every tweet."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

KNOWN_ROWS = 20_000  # ~3 MB per store at most


class KnownRows:
    __slots__ = ("half", "newer", "older")

    def __init__(self, limit: int = KNOWN_ROWS) -> None:
        self.half = max(limit // 2, 1)
        self.newer: set[Hashable] = set()
        self.older: set[Hashable] = set()

    def __contains__(self, row: Hashable) -> bool:
        if row in self.newer:
            return True
        if row in self.older:
            self._add(row)
            return True
        return False

    def __len__(self) -> int:
        return len(self.newer) + len(self.older)

    def remember(self, rows: Iterable[Hashable]) -> None:
        """Rows a flush has just written (call it after the writes succeeded)."""
        for row in rows:
            self._add(row)

    def _add(self, row: Hashable) -> None:
        if len(self.newer) >= self.half:
            self.older, self.newer = self.newer, set()
        self.newer.add(row)
