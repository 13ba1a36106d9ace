"""GET /search at the API's edge: validation, paging and the documented schema, over the memory index."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import Settings
from projections.model import TweetView, UserView
from projections.search import SearchProjection, SearchQueries
from schemas.events import Meta, TweetPosted
from tests.fakes.api import memory_wiring
from tests.fakes.search import MemorySearchStore
from tests.unit.search_contract import at, tid

TWEETS = {tid(800, n): TweetView(tid(800, n), 9, f"hello #chirp number{n}", at(n), author=UserView(9, "ada", "Ada"))
          for n in range(1, 6)}  # fmt: skip


async def hydrate(pairs: Sequence[tuple[int, int]]) -> list[TweetView]:
    return [TWEETS[t] for t, _ in pairs if t in TWEETS]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    store = MemorySearchStore()
    writes = SearchProjection(store).writes()
    for v in TWEETS.values():
        writes.apply(TweetPosted(Meta("e", at(0), 9), v.tweet_id, 9, v.content), {})
    asyncio.run(writes.flush())
    settings = Settings()
    w = memory_wiring(settings)
    w.search = SearchQueries(store, hydrate)
    with TestClient(create_app(settings, w)) as c:
        yield c


def test_a_page_renders_tweets_like_the_timeline(client: TestClient) -> None:
    r = client.get("/search", params={"q": "#CHIRP", "limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["tweet_id"] for t in body["tweets"]] == [str(tid(800, 5)), str(tid(800, 4))]
    assert body["tweets"][0]["author"] == {"user_id": "9", "handle": "ada", "display_name": "Ada"}
    assert set(body["tweets"][0]) == {"tweet_id", "user_id", "content", "created_at", "reply_to", "edited_at",
                                      "like_count", "reply_count", "media", "author"}  # fmt: skip
    seen = [t["tweet_id"] for t in body["tweets"]]
    while body["next_cursor"]:
        body = client.get("/search", params={"q": "hello", "limit": 2, "cursor": body["next_cursor"]}).json()
        seen += [t["tweet_id"] for t in body["tweets"]]
    assert seen == [str(t) for t in sorted(TWEETS, reverse=True)]


def test_no_match_is_an_empty_page(client: TestClient) -> None:
    assert client.get("/search", params={"q": "nothing"}).json() == {"tweets": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "query.q: Field required"),
        ({"q": ""}, "query.q: String should have at least 1 character"),
        ({"q": "   "}, "query.q: String should match pattern"),
        ({"q": "x" * 501}, "query.q: String should have at most 500 characters"),
        ({"q": "hello", "limit": 0}, "query.limit: Input should be greater than or equal to 1"),
    ],
)
def test_bad_queries_are_422_with_a_message(client: TestClient, params: dict[str, str], message: str) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith(message)


def test_a_foreign_cursor_is_422(client: TestClient) -> None:
    r = client.get("/search", params={"q": "hello", "cursor": "nonsense"})
    assert r.status_code == 422 and r.json()["message"].startswith("query.cursor")


@pytest.mark.parametrize("q", ["?!", "-spam"])
def test_a_query_with_no_term_finds_nothing(client: TestClient, q: str) -> None:
    assert client.get("/search", params={"q": q}).json() == {"tweets": [], "next_cursor": None}


def test_the_route_is_documented(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/search"]["get"]
    assert op["tags"] == ["search"]
    assert {"200", "400", "422", "503"} <= set(op["responses"])
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TweetPage")
    assert {p["name"] for p in op["parameters"]} == {"q", "limit", "cursor"}


def test_search_needs_the_read_side() -> None:
    settings = Settings()
    w = memory_wiring(settings)
    with TestClient(create_app(settings, w)) as c:
        assert c.get("/search", params={"q": "x"}).status_code == 503
