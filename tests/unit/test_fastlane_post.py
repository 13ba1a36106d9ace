"""The POST /tweets fast lane answers exactly as the FastAPI route does (status, body, the headers the
middleware around both sets, the events appended), and leaves it every request it cannot answer that way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from limits.aio.storage import MemoryStorage
from prometheus_client import REGISTRY

from api.app import create_app
from api.auth import current_user
from api.fastlane import PostFastLane
from api.ratelimit import RateLimits
from infra.accounts import Grant, token_digest
from infra.settings import Settings
from schemas.events import TweetPosted
from tests.fakes.accounts import MemoryAccounts
from tests.fakes.api import memory_wiring
from tests.fakes.eventlog import MemoryEventLog

ME, OTHER = 7251846523904000, 7251846523904777
TOKEN, READ_ONLY = "chirp_secret", "chirp_reader"
POSTS_ALLOWED = 12  # the posts rule of these apps (every checked post counts): the requests run past it


def build(lane: bool, state: Path) -> tuple[FastAPI, MemoryEventLog]:
    settings = Settings(state_dir=state, rate_limits="on", rate_limit_posts=f"{POSTS_ALLOWED}/hour")
    log, accounts = MemoryEventLog(), MemoryAccounts()
    w = memory_wiring(settings, log, accounts)
    w.rate_limits = RateLimits(settings, storage=MemoryStorage())
    app = create_app(settings, w)
    if not lane:
        app.user_middleware = [m for m in app.user_middleware if getattr(m, "cls", None) is not PostFastLane]
    accounts.tokens[token_digest(TOKEN)] = Grant(ME)
    accounts.tokens[token_digest(READ_ONLY)] = Grant(ME, scopes=frozenset({"read"}))
    return app, log


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
MINE = f'{{"user_id": "{ME}", "content": "hello"}}'
ANSWERED: list[tuple[str, dict[str, str]]] = [  # (body, headers): the lane runs the route's function for these
    (MINE, AUTH),
    (MINE, {**AUTH, "Content-Type": "application/json; charset=utf-8"}),
    (f'{{"user_id": "{ME}", "content": "a reply", "reply_to": "7251846523904999"}}', AUTH),  # unknown: 404
    (f'{{"user_id": "{OTHER}", "content": "as someone else"}}', AUTH),  # 403
    (f'{{"user_id": "{ME}", "content": "hi @nobody_here #tag"}}', {**AUTH, "Idempotency-Key": "k1"}),
    (f'{{"user_id": "{ME}", "content": "hi @nobody_here #tag"}}', {**AUTH, "Idempotency-Key": "k1"}),  # again
]
LEFT: list[tuple[str, dict[str, str]]] = [  # the route judges these (errors)
    (MINE, {"Content-Type": "application/json"}),  # no token: 401
    (MINE, {**AUTH, "Authorization": "Bearer wrong"}),
    (MINE, {**AUTH, "Authorization": f"Bearer {READ_ONLY}"}),  # 403: no write scope
    (MINE, {**AUTH, "Content-Type": "text/plain"}),
    ("{not json", AUTH),
    (f'{{"user_id": "{ME}", "content": ""}}', AUTH),
    (f'{{"user_id": "{ME}", "content": "hi", "extra": 1}}', AUTH),
    (f'{{"user_id": "{ME}", "content": "x", "media": [{{"media_id": "nope"}}]}}', AUTH),
    (f'{{"user_id": "{ME}"}}', AUTH),
    ("[]", AUTH),
]
REQUESTS = ANSWERED + LEFT + [(MINE, AUTH)] * POSTS_ALLOWED  # sent in this order to both apps: into the 429s
SHOWN = ("content-type", "x-chirp-position", "ratelimit-limit", "ratelimit-remaining", "retry-after", "allow")


def answer(c: TestClient, body: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], Any]:
    r = c.post("/tweets", content=body.encode(), headers=headers)
    shown = {h: r.headers.get(h) is not None for h in SHOWN}
    data = r.json() if r.content else None
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in ("tweet_id", "created_at")}  # fresh ids and times
        if isinstance(data.get("detail"), str):  # a 429's "retry in N s" counts down between the two apps' turns
            data["detail"] = re.sub(r"retry in \d+ s", "retry in N s", data["detail"])
    return r.status_code, shown, data


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], list[Any], Any, Any]]:
    state = tmp_path_factory.mktemp("state")
    (fast, fast_log), (plain, plain_log) = build(True, state), build(False, state)
    with TestClient(fast) as a, TestClient(plain) as b:
        yield ([answer(a, *x) for x in REQUESTS], [answer(b, *x) for x in REQUESTS], fast_log, plain_log)


@pytest.mark.parametrize("i", range(len(REQUESTS)))
def test_the_lane_answers_as_the_route(answers: tuple[list[Any], list[Any], Any, Any], i: int) -> None:
    fast, plain, _, _ = answers
    assert fast[i] == plain[i], REQUESTS[i]


def test_the_same_events_are_appended(answers: tuple[list[Any], list[Any], Any, Any]) -> None:
    fast, _, fast_log, plain_log = answers
    statuses = [a[0] for a in fast]
    assert 201 in statuses and 429 in statuses and 401 in statuses and 422 in statuses  # the cases ran
    posted = [(e.author_id, e.content, e.mentions) for e in fast_log.events if isinstance(e, TweetPosted)]
    assert posted == [(e.author_id, e.content, e.mentions) for e in plain_log.events if isinstance(e, TweetPosted)]
    assert len(posted) == statuses.count(201)  # each 201, one event (a 4xx, none)


def _refuse() -> int:
    raise HTTPException(418, "the route was asked")


@pytest.fixture
def lane_only(tmp_path: Path) -> Iterator[TestClient]:
    """The lane in front of a route that refuses everything: what reaches the route is a 418 (or a 422)."""
    app, _ = build(True, tmp_path)
    app.dependency_overrides[current_user] = _refuse
    with TestClient(app) as c:
        yield c


def test_well_formed_posts_take_the_lane(lane_only: TestClient) -> None:
    for body, headers in ANSWERED:
        assert lane_only.post("/tweets", content=body.encode(), headers=headers).status_code != 418, body


def test_other_requests_go_to_the_route(lane_only: TestClient) -> None:
    for body, headers in LEFT:
        assert lane_only.post("/tweets", content=body.encode(), headers=headers).status_code in (418, 422), body


def test_lane_posts_are_labelled_with_the_route(lane_only: TestClient) -> None:
    labels = {"route": "/tweets", "method": "POST", "status": "201"}
    name = "chirp_http_request_duration_seconds_count"
    before = REGISTRY.get_sample_value(name, labels) or 0
    assert lane_only.post("/tweets", content=MINE.encode(), headers=AUTH).status_code == 201
    assert REGISTRY.get_sample_value(name, labels) == before + 1
