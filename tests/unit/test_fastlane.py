"""The GET /timeline fast lane answers exactly as the FastAPI route does, and leaves it every request it
cannot answer that way (so errors keep coming from the route)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from api.app import create_app
from api.auth import current_user
from api.fastlane import TimelineFastLane, timeline_params
from infra.accounts import Grant, token_digest
from infra.settings import Settings
from projections.model import TweetView, UserView
from projections.queries import Page, Queries
from projections.timeline import encode_cursor
from schemas.ids import MAX_ID
from tests.fakes.accounts import MemoryAccounts
from tests.fakes.api import memory_wiring

ME, OTHER = 7251846523904000, 7251846523904777
TOKEN = "chirp_secret"


class FakeQueries:
    """A home timeline of ids below `before`, newest first; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[int | None, ...]] = []

    async def home(self, user_id: int, before: int | None, limit: int, after: int | None = None) -> Page:
        self.calls.append((user_id, before, limit) if after is None else (user_id, before, limit, after))
        top = (before or 1000) - 1
        author = UserView(OTHER, "ada_l", "Ada")
        tweets = [
            TweetView(t, OTHER, f"tweet {t}", datetime(2026, 1, 1, tzinfo=UTC), like_count=t % 3, author=author)
            for t in range(top, max(top - limit, after or 0), -1)
        ]
        return Page(tweets, tweets[-1].tweet_id if tweets else None, rebuilt=user_id % 2 == 1)


def build(lane: bool) -> tuple[FastAPI, FakeQueries]:
    settings = Settings()
    accounts = MemoryAccounts()
    queries = FakeQueries()
    w = memory_wiring(settings, None, accounts)
    w.queries = cast(Queries, queries)
    app = create_app(settings, w)
    if not lane:
        app.user_middleware = [m for m in app.user_middleware if getattr(m, "cls", None) is not TimelineFastLane]
    accounts.tokens[token_digest(TOKEN)] = Grant(ME)
    return app, queries


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[TestClient, TestClient, FakeQueries, FakeQueries]]:
    (fast, fq), (plain, pq) = build(True), build(False)
    with TestClient(fast) as a, TestClient(plain) as b:
        yield a, b, fq, pq


AUTH = {"Authorization": f"Bearer {TOKEN}"}
CURSOR = encode_cursor(900)
ANSWERED = [  # (query, headers): the lane answers these itself
    (f"user_id={ME}", AUTH),
    (f"user_id={ME}&limit=5", AUTH),
    (f"limit=3&cursor={CURSOR}&user_id={ME}", AUTH),
    (f"user_id={ME}&limit=500", AUTH),
    (f"user_id={ME}", {"Authorization": f"bEaReR   {TOKEN}  "}),
    (f"user_id={ME}&since={encode_cursor(990)}", AUTH),
    (f"since={encode_cursor(950)}&limit=3&cursor={CURSOR}&user_id={ME}", AUTH),
]
LEFT = [  # the route judges these (mostly errors)
    (f"user_id={ME}", {}),
    (f"user_id={ME}", {"Authorization": "Bearer wrong"}),
    (f"user_id={ME}", {"Authorization": f"Basic {TOKEN}"}),
    (f"user_id={OTHER}", AUTH),
    ("", AUTH),
    (f"user_id={ME}&limit=0", AUTH),
    (f"user_id={ME}&limit=-1", AUTH),
    (f"user_id={ME}&limit=abc", AUTH),
    (f"user_id={ME}&limit=007", AUTH),
    (f"user_id={ME}&limit=", AUTH),
    (f"user_id={ME}&cursor=bm9wZQ", AUTH),
    (f"user_id={ME}&cursor=", AUTH),
    (f"user_id={ME}&since=", AUTH),
    (f"user_id={ME}&cursor=%41", AUTH),
    (f"user_id={ME}&since=bm9wZQ", AUTH),
    (f"user_id={ME}&since=1&since=2", AUTH),
    (f"user_id=0{ME}", AUTH),
    (f"user_id={ME}&user_id={ME}", AUTH),
    (f"user_id={ME}&extra=1", AUTH),
    (f"user_id={ME}&", AUTH),
    (f"user_id={MAX_ID + 1}", AUTH),
    ("user_id=abc", AUTH),
]


def answer(c: TestClient, query: str, headers: dict[str, str]) -> tuple[int, str | None, Any]:
    r = c.get(f"/timeline?{query}", headers=headers)
    return r.status_code, r.headers.get("content-type"), r.json()


@pytest.mark.parametrize(("query", "headers"), ANSWERED + LEFT)
def test_the_lane_answers_as_the_route(
    clients: tuple[TestClient, TestClient, FakeQueries, FakeQueries], query: str, headers: dict[str, str]
) -> None:
    fast, plain, fq, pq = clients
    assert answer(fast, query, headers) == answer(plain, query, headers)
    assert fq.calls == pq.calls


def _refuse() -> int:
    raise HTTPException(418, "the route was asked")


@pytest.fixture(scope="module")
def lane_only() -> Iterator[TestClient]:
    """The lane in front of a route that refuses everything: what reaches the route is a 418."""
    app, _ = build(True)
    app.dependency_overrides[current_user] = _refuse
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(("query", "headers"), ANSWERED)
def test_well_formed_requests_take_the_lane(lane_only: TestClient, query: str, headers: dict[str, str]) -> None:
    assert lane_only.get(f"/timeline?{query}", headers=headers).status_code == 200


@pytest.mark.parametrize(("query", "headers"), LEFT)
def test_other_requests_go_to_the_route(lane_only: TestClient, query: str, headers: dict[str, str]) -> None:
    assert lane_only.get(f"/timeline?{query}", headers=headers).status_code in (418, 422)  # 422: before deps


def test_lane_requests_are_labelled_with_the_route(lane_only: TestClient) -> None:
    labels = {"route": "/timeline", "method": "GET", "status": "200"}
    name = "chirp_http_request_duration_seconds_count"
    before = REGISTRY.get_sample_value(name, labels) or 0
    assert lane_only.get(f"/timeline?user_id={ME}", headers=AUTH).status_code == 200
    assert REGISTRY.get_sample_value(name, labels) == before + 1


@given(st.text(alphabet="abcdeilmorstu_=&0123456789-%+", max_size=40))
def test_params_are_only_ever_what_the_route_would_read(query: str) -> None:
    params = timeline_params(query.encode())
    if params is not None:
        user_id, limit, cursor = params
        fields = dict(p.split("=", 1) for p in query.split("&"))
        assert str(user_id) == fields["user_id"] and 1 <= limit <= 100
        assert limit == min(int(fields.get("limit", "20")), 100) and cursor == fields.get("cursor")
