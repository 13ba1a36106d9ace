"""What every search store must do; run against the memory fake (tests/unit/test_search.py) and
Cassandra (tests/integration/test_search.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from projections.search import Posting, SearchStore
from schemas.ids import NODE_BITS, SEQ_BITS

DAY_MS = 24 * 3600 * 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def tid(day: int, n: int = 0) -> int:
    """A tweet id made `day` days and `n` ms after chirp's epoch."""
    return (day * DAY_MS + n) << (NODE_BITS + SEQ_BITS)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class SearchStoreContract:
    """Subclasses provide `store` (a fixture) and `put_text` (the durable tweet text deletes read)."""

    async def put_text(self, store: SearchStore, tweet_id: int, text: str) -> None:
        raise NotImplementedError

    @staticmethod
    def term() -> str:
        return "t" + uuid.uuid4().hex[:12]

    async def test_postings_are_newest_first_bounded_and_limited(self, store: SearchStore) -> None:
        term, w = self.term(), store.writes()
        ids = [tid(400, n) for n in (5, 1, 9, 3)]
        for i in ids:
            w.add(term, i, 7, at(1))
        w.add(self.term(), tid(400, 2), 7, at(1))  # another term
        await w.flush()
        assert await store.postings(term, None, 10) == [Posting(i, 7) for i in sorted(ids, reverse=True)]
        assert await store.postings(term, None, 2) == [Posting(tid(400, 9), 7), Posting(tid(400, 5), 7)]
        assert await store.postings(term, tid(400, 5), 10) == [Posting(tid(400, 3), 7), Posting(tid(400, 1), 7)]
        assert await store.postings(self.term(), None, 10) == []

    async def test_postings_walk_back_over_many_days(self, store: SearchStore) -> None:
        term, w = self.term(), store.writes()
        days = list(range(300, 300 + 150, 1))  # more days than one page of bucket rows
        for d in days:
            w.add(term, tid(d, 1), 1, at(1))
            w.add(term, tid(d, 2), 1, at(1))
        await w.flush()
        every = await store.postings(term, None, 1000)
        assert [p.tweet_id for p in every] == sorted((tid(d, n) for d in days for n in (1, 2)), reverse=True)
        page = await store.postings(term, tid(420, 2), 5)
        assert [p.tweet_id for p in page] == [tid(420, 1), tid(419, 2), tid(419, 1), tid(418, 2), tid(418, 1)]

    async def test_writes_are_idempotent_and_ordered_by_event_time(self, store: SearchStore) -> None:
        term = self.term()
        for _ in range(2):  # applied twice: the same cells
            w = store.writes()
            w.add(term, tid(500, 1), 3, at(1))
            w.add(term, tid(500, 2), 3, at(1))
            w.remove(term, tid(500, 2), at(5))
            await w.flush()
        assert await store.postings(term, None, 10) == [Posting(tid(500, 1), 3)]
        w = store.writes()
        w.add(term, tid(500, 2), 3, at(2))  # a replayed post older than the delete stays deleted
        await w.flush()
        assert await store.postings(term, None, 10) == [Posting(tid(500, 1), 3)]
        w = store.writes()
        w.add(term, tid(500, 2), 3, at(9))  # a later event wins
        await w.flush()
        assert len(await store.postings(term, None, 10)) == 2

    async def test_a_tweets_terms_are_indexed_and_unindexed_together_and_one_by_one(self, store: SearchStore) -> None:
        # A store may write all of one tweet's terms as one statement: each term still answers on its own,
        # and a remove of some terms (an edit, a delete) leaves the others.
        terms, other = [self.term() for _ in range(5)], self.term()
        w = store.writes()
        for term in terms:
            w.add(term, tid(700, 1), 4, at(1))
        w.add(terms[0], tid(700, 2), 5, at(1))  # another tweet in the same flush
        w.add(other, tid(700, 2), 5, at(1))
        await w.flush()
        for term in terms[1:]:
            assert await store.postings(term, None, 10) == [Posting(tid(700, 1), 4)]
        assert await store.postings(terms[0], None, 10) == [Posting(tid(700, 2), 5), Posting(tid(700, 1), 4)]
        w = store.writes()
        w.remove(terms[1], tid(700, 1), at(3))
        w.remove(terms[2], tid(700, 1), at(3))
        w.remove(other, tid(700, 2), at(3))
        await w.flush()
        assert [await store.postings(t, None, 10) for t in terms[1:3]] == [[], []]
        assert await store.postings(terms[3], None, 10) == [Posting(tid(700, 1), 4)]
        assert await store.postings(other, None, 10) == []

    async def test_contents_are_the_durable_texts(self, store: SearchStore) -> None:
        await self.put_text(store, tid(600, 1), "hello there")
        assert await store.contents([tid(600, 1), tid(600, 2)]) == {tid(600, 1): "hello there"}
        assert await store.contents([]) == {}
