"""In-memory search index: the fake unit tests run the search projection and queries against. It keeps
each cell's write time like Cassandra, so replays and late redeliveries behave as they do there."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from projections.search import Posting


class MemorySearchStore:
    def __init__(self, contents: dict[int, str] | None = None) -> None:
        self.cells: dict[tuple[str, int], tuple[datetime, int | None]] = {}  # -> (write time, author or None)
        self.tweet_texts = contents if contents is not None else {}

    def writes(self) -> MemorySearchWrites:
        return MemorySearchWrites(self)

    def _put(self, key: tuple[str, int], at: datetime, author: int | None) -> None:
        """Last write wins by time; at equal times a delete wins, as in Cassandra."""
        old = self.cells.get(key)
        if old is None or at > old[0] or (at == old[0] and author is None):
            self.cells[key] = (at, author)

    async def postings(self, term: str, before: int | None, limit: int) -> list[Posting]:
        ids = sorted(
            (Posting(t, a) for (term_, t), (_, a) in self.cells.items()
             if term_ == term and a is not None and (before is None or t < before)),
            key=lambda p: -p.tweet_id,
        )  # fmt: skip
        return ids[:limit]

    async def contents(self, tweet_ids: Sequence[int]) -> dict[int, str]:
        return {t: self.tweet_texts[t] for t in tweet_ids if t in self.tweet_texts}


class MemorySearchWrites:
    def __init__(self, store: MemorySearchStore) -> None:
        self.store = store
        self.pending: list[tuple[tuple[str, int], datetime, int | None]] = []

    def add(self, term: str, tweet_id: int, author_id: int, at: datetime) -> None:
        self.pending.append(((term, tweet_id), at, author_id))

    def remove(self, term: str, tweet_id: int, at: datetime) -> None:
        self.pending.append(((term, tweet_id), at, None))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        for key, at, author in pending:
            self.store._put(key, at, author)
