"""The search projection and query over the in-memory index, against a brute-force reference."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.model import TweetView
from projections.ports import Authors
from projections.queries import Page
from projections.search import SearchProjection, SearchQueries
from projections.search_terms import parse_query
from schemas.events import Event, Meta, TweetDeleted, TweetEdited, TweetLiked, TweetPosted
from tests.fakes.search import MemorySearchStore
from tests.unit.search_contract import SearchStoreContract, at, tid


class TestMemorySearchStore(SearchStoreContract):
    @pytest.fixture
    def store(self) -> MemorySearchStore:
        return MemorySearchStore()

    async def put_text(self, store: MemorySearchStore, tweet_id: int, text: str) -> None:  # type: ignore[override]
        store.tweet_texts[tweet_id] = text


class World:
    """Events applied to the index and to a plain dict of current tweets (what hydration reads)."""

    def __init__(self) -> None:
        self.tweets: dict[int, TweetView] = {}
        self.store = MemorySearchStore({})
        self.projection = SearchProjection(self.store)
        self.search = SearchQueries(self.store, self.hydrate)
        self.log: list[Event] = []
        self.clock = 0
        self.done = 0  # events of the log projected so far

    async def hydrate(self, pairs: Sequence[tuple[int, int]]) -> list[TweetView]:
        return [self.tweets[t] for t, _ in pairs if t in self.tweets]

    def meta(self, actor: int) -> Meta:
        self.clock += 1
        return Meta(f"e{self.clock}", at(self.clock), actor)

    def post(self, n: int, text: str, author: int = 1) -> int:
        t = tid(700 + n // 3, n)
        self.tweets[t] = TweetView(t, author, text, at(0))
        self.store.tweet_texts[t] = text
        self.log.append(TweetPosted(self.meta(author), t, author, text))
        return t

    def edit(self, t: int, text: str) -> None:
        v = self.tweets[t]
        self.tweets[t] = replace(v, content=text, edited_at=at(self.clock + 1))
        self.store.tweet_texts[t] = text
        self.log.append(TweetEdited(self.meta(v.author_id), t, v.author_id, text))

    def delete(self, t: int) -> None:
        v = self.tweets[t]
        self.tweets[t] = replace(v, deleted=True)
        self.log.append(TweetDeleted(self.meta(v.author_id), t, v.author_id))

    def project(self, batch: int = 3, replay: bool = False) -> None:
        """Applies the events not projected yet (all of them again with `replay`) in batches."""
        new = self.log if replay else self.log[self.done :]
        self.done = len(self.log)
        authors: Authors = {t: (v.author_id, None) for t, v in self.tweets.items()}

        async def run() -> None:
            for i in range(0, len(new), batch):
                w = self.projection.writes()
                for e in new[i : i + batch]:
                    w.apply(e, authors)
                await w.flush()

        asyncio.run(run())

    def find(self, q: str, limit: int = 100, before: int | None = None, max_scan: int = 1000) -> Page:
        return asyncio.run(self.search.search(parse_query(q), before, limit, max_scan))

    def ids(self, q: str) -> list[int]:
        return [v.tweet_id for v in self.find(q).tweets]

    def every_page(self, q: str, limit: int, max_scan: int) -> list[int]:
        out: list[int] = []
        before = None
        for _ in range(10_000):
            page = self.find(q, limit, before, max_scan)
            assert len(page.tweets) <= limit
            out += [v.tweet_id for v in page.tweets]
            if page.next_before is None:
                return out
            assert before is None or page.next_before < before  # progress
            before = page.next_before
        raise AssertionError("no end")


def test_words_hashtags_mentions_phrases_and_exclusions() -> None:
    w = World()
    a = w.post(1, "Hello big world #Chirp")
    b = w.post(2, "the world is big @ada_l")
    c = w.post(3, "東京タワーに行った")
    w.project()
    assert w.ids("world") == [b, a]
    assert w.ids("big world") == [b, a]
    assert w.ids('"big world"') == [a]
    assert w.ids("#chirp") == [a] and w.ids("chirp") == [a]
    assert w.ids("@ADA_L") == [b] and w.ids("ada_l") == []
    assert w.ids("world -chirp") == [b]
    assert w.ids("タワー") == [c] and w.ids("京都") == []


def test_an_edit_is_found_by_its_new_text_only_and_a_delete_not_at_all() -> None:
    w = World()
    a = w.post(1, "old words here")
    b = w.post(2, "doomed tweet here")
    w.project()
    w.edit(a, "new words here")
    w.delete(b)
    w.project()
    assert w.ids("new") == [a] and w.ids("old") == [] and w.ids("doomed") == [] and w.ids("here") == [a]
    assert [p.tweet_id for p in asyncio.run(w.store.postings("doomed", None, 10))] == []  # unindexed
    assert [p.tweet_id for p in asyncio.run(w.store.postings("old", None, 10))] == [a]  # stale, filtered


def test_a_delete_in_a_later_batch_reads_the_durable_text() -> None:
    w = World()
    a = w.post(1, "first text")
    w.edit(a, "second text")
    w.project(batch=1)
    w.delete(a)
    w.project()
    assert asyncio.run(w.store.postings("second", None, 10)) == []


def test_other_events_are_ignored() -> None:
    w = World()
    w.log.append(TweetLiked(w.meta(1), 5, 1))
    w.project()
    assert w.store.cells == {}


def test_replaying_the_log_twice_changes_nothing() -> None:
    w = World()
    for n in range(12):
        w.post(n, f"tweet {n} #tag{n % 3}")
    w.delete(tid(700 + 1, 4))
    w.edit(tid(700 + 2, 7), "edited #tag0")
    w.project()
    before = dict(w.store.cells)
    w.project(batch=5, replay=True)
    assert w.store.cells == before


def test_a_page_ends_early_after_max_scan_with_a_cursor_that_continues() -> None:
    w = World()
    hits = [w.post(n, "needle hay" if n % 10 == 0 else "hay") for n in range(50)]
    w.project()
    page = w.find("hay needle", limit=3, max_scan=5)  # walks `needle`, the rarer term: 5 postings, 3 hits
    assert [v.tweet_id for v in page.tweets] == sorted(hits[::10], reverse=True)[:3]
    page = w.find("hay", limit=100, max_scan=7)
    assert len(page.tweets) == 7 and page.next_before == page.tweets[-1].tweet_id
    assert w.every_page("hay", 100, 7) == sorted(hits, reverse=True)


def test_a_page_ends_early_when_its_time_budget_is_spent_with_a_cursor_that_continues() -> None:
    w = World()
    ids = [w.post(n, "hay") for n in range(300)]
    for n, t in enumerate(ids):
        if n % 10:
            w.edit(t, "straw")  # its `hay` posting stays, a candidate that fails confirmation
    w.project()
    w.search = SearchQueries(w.store, w.hydrate, budget_s=0.0)  # spent after the first candidates hydrated
    page = w.find("hay", limit=20)
    assert 0 < len(page.tweets) < 20 and page.next_before is not None
    assert page.next_before <= page.tweets[-1].tweet_id
    assert w.every_page("hay", 20, 1000) == sorted(ids[::10], reverse=True)


WORDS = ["apple", "#apple", "pie", "@bob", "東京", "tarte", "café", "cafe", "big", "world"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5), min_size=1, max_size=40),
    st.sets(st.integers(0, 39)),
    st.dictionaries(st.integers(0, 39), st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)),
    st.sampled_from(["apple", "#apple", "pie apple", '"big world"', "cafe", "東京", "@bob -pie", "tarte"]),
    st.integers(1, 7),
    st.integers(1, 12),
)
def test_paging_returns_every_match_exactly_once_newest_first(
    texts: list[list[str]], deleted: set[int], edits: dict[int, list[str]], q: str, limit: int, max_scan: int
) -> None:
    w = World()
    ids = [w.post(n, " ".join(t)) for n, t in enumerate(texts)]
    for n, words in edits.items():
        if n < len(ids):
            w.edit(ids[n], " ".join(words))
    for n in deleted:
        if n < len(ids):
            w.delete(ids[n])
    w.project()
    query = parse_query(q)
    expected = sorted((t for t, v in w.tweets.items() if not v.deleted and query.matches(v.content)), reverse=True)
    assert w.every_page(q, limit, max_scan) == expected
