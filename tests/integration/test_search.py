"""Search end to end: tweets posted, edited and deleted through the API, indexed by the real worker into
Cassandra, found through GET /search; and the search store contract against Cassandra."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cassandra.cluster import Session
from fastapi.testclient import TestClient

from infra import cassandra
from infra.settings import Settings
from projections.ports import Authors
from projections.search import SearchProjection
from projections.stores.search_cassandra import CassandraSearchStore
from schemas.codec import DecodeError, default_codec
from schemas.events import TweetDeleted, TweetEdited, TweetPosted
from tests.integration.support import WorkerProcess, read_topic, register, wait_idle
from tests.unit.search_contract import SearchStoreContract

pytestmark = pytest.mark.integration

Auth = dict[str, str]


@pytest.fixture(scope="module")
def session(settings: Settings) -> Iterator[Session]:
    cluster, s = cassandra.connect(settings, settings.keyspace)
    yield s
    cluster.shutdown()


class TestCassandraSearchStore(SearchStoreContract):
    @pytest.fixture
    def store(self, session: Session) -> CassandraSearchStore:
        return CassandraSearchStore(session)

    async def put_text(self, store: CassandraSearchStore, tweet_id: int, text: str) -> None:  # type: ignore[override]
        await cassandra.execute(store.s, "INSERT INTO tweets (tweet_id, author_id, content) VALUES (%s, 1, %s)",
                                (tweet_id, text))  # fmt: skip


def search(api: TestClient, q: str, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"q": q, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    r = api.get("/search", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def every(api: TestClient, q: str, limit: int = 100) -> list[str]:
    """Every match's id, following cursors."""
    out: list[str] = []
    cursor = None
    for _ in range(200):
        body = search(api, q, limit, cursor)
        out += [t["tweet_id"] for t in body["tweets"]]
        cursor = body["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("paging did not end")


def eventually(check: Callable[[], bool], what: str, deadline_s: float = 30) -> None:
    """Polls until check() holds; fails at the deadline (no fixed sleeps)."""
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


class Author:
    def __init__(self, api: TestClient, handle: str) -> None:
        self.api, self.handle = api, handle
        self.id, self.auth = register(api, handle)

    def post(self, content: str) -> str:
        r = self.api.post("/tweets", headers=self.auth, json={"user_id": self.id, "content": content})
        assert r.status_code == 201, r.text
        tweet_id: str = r.json()["tweet_id"]
        return tweet_id

    def edit(self, tweet_id: str, content: str) -> None:
        r = self.api.patch(f"/tweets/{tweet_id}", headers=self.auth, json={"content": content})
        assert r.status_code == 200, r.text

    def delete(self, tweet_id: str) -> None:
        assert self.api.delete(f"/tweets/{tweet_id}", headers=self.auth).status_code == 204


@pytest.fixture
def author(api: TestClient, worker: WorkerProcess, uniq: str) -> Author:
    return Author(api, f"s_{uniq}")


def test_words_hashtags_mentions_phrases_scripts_case_and_accents(api: TestClient, author: Author, uniq: str) -> None:
    u = f"m{uniq}"  # a word no other test uses
    a = author.post(f"Hello WORLD {u} #Chirp{u} café au lait")
    b = author.post(f"{u} a big world, says @{author.handle}")
    c = author.post(f"{u} 昨日東京タワーに行った")
    d = author.post(f"{u} Привет, мир! Ελληνικά")
    eventually(lambda: len(every(api, u)) == 4, "the four tweets to be indexed")
    assert every(api, u) == [d, c, b, a]
    assert every(api, f"#chirp{u}") == [a] and every(api, f"chirp{u}") == [a]
    assert every(api, f"hello {u.upper()}") == [a]
    assert every(api, f"cafe {u}") == [a] and every(api, f"CAFÉ {u}") == [a]
    assert every(api, f'"big world" {u}') == [b] and every(api, f"world {u}") == [b, a]
    assert every(api, f"world -big {u}") == [a]
    assert every(api, f"@{author.handle.upper()} {u}") == [b]
    assert every(api, f"タワー {u}") == [c] and every(api, f"東京 {u}") == [c] and every(api, f"京都 {u}") == []
    assert every(api, f"ПРИВЕТ {u}") == [d] and every(api, f"ελληνικα {u}") == [d]
    tweet = search(api, f"#chirp{u}")["tweets"][0]
    assert tweet["author"]["handle"] == author.handle and tweet["content"].startswith("Hello WORLD")


def test_an_edited_tweet_is_found_by_its_new_text_and_a_deleted_one_disappears(
    api: TestClient, author: Author, uniq: str
) -> None:
    old, new, gone = f"old{uniq}", f"new{uniq}", f"gone{uniq}"
    t = author.post(f"first draft {old}")
    doomed = author.post(f"soon deleted {gone}")
    eventually(lambda: every(api, old) == [t] and every(api, gone) == [doomed], "both tweets to be indexed")
    author.edit(t, f"second draft {new}")
    author.delete(doomed)
    eventually(lambda: every(api, new) == [t], "the new text to be found")
    eventually(lambda: every(api, old) == [] and every(api, gone) == [], "the old text and the deleted tweet to go")
    assert search(api, new)["tweets"][0]["content"] == f"second draft {new}"


def test_paging_returns_every_match_once_newest_first(api: TestClient, author: Author, uniq: str) -> None:
    u = f"p{uniq}"
    ids = [author.post(f"{u} number {n}") for n in range(7)]
    eventually(lambda: len(every(api, u)) == 7, "seven tweets to be indexed")
    assert every(api, u, limit=3) == sorted(ids, key=int, reverse=True)
    first = search(api, u, limit=3)
    assert len(first["tweets"]) == 3 and first["next_cursor"]


def test_replaying_the_events_leaves_the_same_index(
    api: TestClient, author: Author, settings: Settings, worker: WorkerProcess, session: Session, uniq: str
) -> None:
    """The events of this test applied again (twice, as a replay and a redelivery would) change nothing."""
    u = f"r{uniq}"
    a, b, c = (author.post(f"{u} tweet {n} #tag{u}") for n in range(3))
    author.edit(b, f"{u} edited #other{u}")
    author.delete(c)
    wait_idle(settings, worker)
    queries = [u, f"#tag{u}", f"#other{u}", f'"{u} edited"']
    before = {q: every(api, q) for q in queries}
    assert before[u] == [b, a] and before[f"#tag{u}"] == [a]

    codec = default_codec()
    events = []
    for m in read_topic(settings, "tweets"):
        try:
            e = codec.decode(m.value)
        except DecodeError:
            continue
        if isinstance(e, TweetPosted | TweetEdited | TweetDeleted) and e.meta.actor_id == int(author.id):
            events.append(e)
    assert len(events) == 5
    projection = SearchProjection(CassandraSearchStore(session))
    authors: Authors = {e.tweet_id: (e.author_id, None) for e in events if isinstance(e, TweetPosted)}

    async def replay() -> None:
        for _ in range(2):
            w = projection.writes()
            for e in events:
                w.apply(e, authors)
            await w.flush()

    asyncio.run(replay())
    assert {q: every(api, q) for q in queries} == before
