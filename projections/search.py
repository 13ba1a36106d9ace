"""Search: the inverted index as a further read model (term -> tweet ids, newest first), and the query
that walks it.

The index is only a candidate generator. A query walks one term's postings newest first and confirms
every candidate against the tweet as it is *now* (hydrated like any page): its current text must still
answer the query and it must not be deleted. So an edit needs only to index the new text's terms (the
old text's postings may stay; they are filtered out), and a delete is right even before its postings
are removed. Cutting text into terms: projections/search_terms.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from projections.model import TweetView
from projections.ports import Authors
from projections.queries import Page
from projections.search_terms import Query, terms
from schemas.events import Event, TweetDeleted, TweetEdited, TweetPosted

PROBE = 64  # postings read per term to pick the rarest
CHUNK = 200  # postings read per round
MIN_HYDRATE = 16  # candidates hydrated at once, at least
MAX_SCAN = 1000  # postings confirmed per request at most; past that the page ends early, with a cursor
BUDGET_S = 0.1  # time one request may spend confirming candidates; past that the page ends early, with a cursor


@dataclass(frozen=True, slots=True)
class Posting:
    tweet_id: int
    author_id: int


class SearchWrites(Protocol):
    """Queued postings; each carries its event's time, so replays and redeliveries converge."""

    def add(self, term: str, tweet_id: int, author_id: int, at: datetime) -> None: ...
    def remove(self, term: str, tweet_id: int, at: datetime) -> None: ...
    async def flush(self) -> None: ...


class SearchStore(Protocol):
    """The inverted index (Cassandra: projections/stores/search_cassandra.py)."""

    def writes(self) -> SearchWrites: ...

    async def postings(self, term: str, before: int | None, limit: int) -> list[Posting]:
        """A term's postings below `before`, newest first; fewer than `limit` only when there are no more."""
        ...

    async def contents(self, tweet_ids: Sequence[int]) -> dict[int, str]:
        """The current text of tweets (the durable tweets table), to find what a delete unindexes."""
        ...


class SearchProjection:
    """The `Projection` the worker and replays feed (see projections/factory.VersionStores.side_projections)."""

    def __init__(self, store: SearchStore) -> None:
        self.store = store

    def writes(self) -> SearchIndexWrites:
        return SearchIndexWrites(self.store)


class SearchIndexWrites:
    """One batch: posts and edits index their text's terms; deletes unindex the tweet's current text."""

    def __init__(self, store: SearchStore) -> None:
        self.store = store
        self.w = store.writes()
        self.texts: dict[int, str] = {}  # the text each tweet has after this batch's events
        self.deletes: list[tuple[int, datetime]] = []

    def apply(self, event: Event, authors: Authors) -> None:
        match event:
            case TweetPosted():
                self._index(event.tweet_id, event.author_id, event.content, event.meta.occurred_at)
            case TweetEdited():
                author = authors.get(event.tweet_id, (event.meta.actor_id, None))[0]
                self._index(event.tweet_id, author, event.content, event.meta.occurred_at)
            case TweetDeleted():
                self.deletes.append((event.tweet_id, event.meta.occurred_at))

    def _index(self, tweet_id: int, author_id: int, text: str, at: datetime) -> None:
        self.texts[tweet_id] = text
        for term in terms(text):
            self.w.add(term, tweet_id, author_id, at)

    async def flush(self) -> None:
        if self.deletes:
            unknown = sorted({t for t, _ in self.deletes if t not in self.texts})
            if unknown:
                self.texts.update(await self.store.contents(unknown))
            for tweet_id, at in self.deletes:
                for term in terms(self.texts.get(tweet_id, "")):
                    self.w.remove(term, tweet_id, at)
        self.texts, self.deletes = {}, []
        await self.w.flush()


Hydrate = Callable[[Sequence[tuple[int, int]]], Awaitable[list[TweetView]]]


class SearchQueries:
    """Pages of tweets answering a query, newest first, confirmed against their current state."""

    def __init__(self, store: SearchStore, hydrate: Hydrate, budget_s: float = BUDGET_S) -> None:
        """`budget_s`: how long one request may spend confirming candidates (the event loop's time, since
        matching runs on it, plus the waits for the stores), so that no query, however common its terms,
        holds an API process for long."""
        self.store = store
        self.hydrate = hydrate
        self.budget_s = budget_s

    async def search(self, query: Query, before: int | None, limit: int, max_scan: int = MAX_SCAN) -> Page:
        """Up to `limit` matches below `before`. The next cursor is set whenever more may follow: after a
        full page, or when `max_scan` postings were confirmed first or the time budget ran out (the page
        may then be short, even empty; a client follows `next_cursor` until it is null)."""
        deadline = time.monotonic() + self.budget_s
        term, chunk = await self._rarest(query.terms, before, max(limit + 1, PROBE))
        found: list[TweetView] = []
        scanned = 0
        while chunk:
            chunk = chunk[: max_scan - scanned]
            i = 0
            while i < len(chunk):  # hydrate no more than the page still needs (most candidates match)
                part = chunk[i : i + max(limit + 1 - len(found), MIN_HYDRATE)]
                i += len(part)
                views = {v.tweet_id: v for v in await self.hydrate([(p.tweet_id, p.author_id) for p in part])}
                for p in part:
                    scanned += 1
                    v = views.get(p.tweet_id)
                    if v is None or v.deleted:
                        continue
                    if (v.edited_at is None and query.one_term) or query.matches(v.content):
                        found.append(v)
                        if len(found) > limit:
                            return Page(found[:limit], found[limit - 1].tweet_id)
                if time.monotonic() > deadline and i < len(chunk):
                    return Page(found, part[-1].tweet_id)
            if scanned >= max_scan or time.monotonic() > deadline:
                return Page(found, chunk[-1].tweet_id)
            chunk = await self.store.postings(term, chunk[-1].tweet_id, min(CHUNK, max_scan - scanned))
        return Page(found, None)

    async def _rarest(self, wanted: Sequence[str], before: int | None, n: int) -> tuple[str, list[Posting]]:
        """The term to walk and its first postings: one whose postings ran out if any (the fewest), else
        the one whose first `n` postings reach back furthest (the sparsest lately)."""
        probes = await asyncio.gather(*(self.store.postings(t, before, n) for t in wanted))
        best = min(range(len(wanted)), key=lambda i: (len(probes[i]) >= n, len(probes[i]), probes[i][-1].tweet_id
                                                       if probes[i] else 0))  # fmt: skip
        return wanted[best], probes[best]
