"""Rate limits against the real Redis: shared by API processes, per address and per user, 429 with headers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ratelimit import OPERATOR_HEADER
from infra.settings import Settings
from tests.integration.support import register

SECRET = "operator-secret-for-tests"


@pytest.fixture(scope="module")
def limited(settings: Settings) -> Settings:
    """The session's services with the limits on and small, under a prefix of their own."""
    return settings.model_copy(
        update={
            "rate_limits": "on",
            "rate_limit_register": "4/30 minutes",
            "rate_limit_posts": "3/3 hours",
            "rate_limit_anonymous": "5/5 minutes",
            "operator_token": SECRET,
            "redis_prefix": f"{settings.redis_prefix}rl{uuid.uuid4().hex[:6]}:",
        }
    )


@pytest.fixture(scope="module")
def two_apis(limited: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API instances sharing Redis, as two processes would."""
    with TestClient(create_app(limited)) as a, TestClient(create_app(limited)) as b:
        yield a, b


def _user(api: TestClient) -> tuple[str, dict[str, str]]:
    r = api.post("/users", json={"handle": f"u{uuid.uuid4().hex[:10]}", "display_name": "U"},
                 headers={OPERATOR_HEADER: SECRET})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_burst_of_registrations_from_one_address_meets_429_across_processes(
    two_apis: tuple[TestClient, TestClient],
) -> None:
    codes = []
    for i in range(6):
        api = two_apis[i % 2]
        r = api.post("/users", json={"handle": f"b{uuid.uuid4().hex[:10]}", "display_name": "B"})
        codes.append(r.status_code)
        if r.status_code == 201:
            assert r.headers["RateLimit-Limit"] == "4"
            assert int(r.headers["RateLimit-Remaining"]) == 4 - codes.count(201)
    assert codes == [201] * 4 + [429] * 2
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Remaining"] == "0"
    assert int(r.headers["RateLimit-Reset"]) >= 1
    assert "rate limit" in r.json()["detail"]


def test_the_operator_secret_is_exempt_and_a_wrong_one_is_not(two_apis: tuple[TestClient, TestClient]) -> None:
    api = two_apis[0]
    for _ in range(3):
        register_as_operator = api.post("/users", json={"handle": f"o{uuid.uuid4().hex[:10]}", "display_name": "O"},
                                        headers={OPERATOR_HEADER: SECRET})  # fmt: skip
        assert register_as_operator.status_code == 201
    wrong = api.post("/users", json={"handle": f"w{uuid.uuid4().hex[:10]}", "display_name": "W"},
                     headers={OPERATOR_HEADER: "guess"})  # fmt: skip
    assert wrong.status_code == 429  # the address spent its registrations in the test above


def test_one_users_burst_of_posts_meets_429_while_another_user_still_posts(
    two_apis: tuple[TestClient, TestClient],
) -> None:
    a, b = two_apis
    alice, alice_auth = _user(a)
    bob, bob_auth = _user(a)
    codes = [
        (a if i % 2 else b).post("/tweets", json={"user_id": alice, "content": f"burst {i}"}, headers=alice_auth)
        for i in range(5)
    ]
    assert [c.status_code for c in codes] == [201, 201, 201, 429, 429]
    assert int(codes[-1].headers["Retry-After"]) >= 1
    r = a.post("/tweets", json={"user_id": bob, "content": "still here"}, headers=bob_auth)
    assert r.status_code == 201, r.text
    assert r.headers["RateLimit-Remaining"] == "2"


def test_anonymous_reads_are_limited_per_address_and_a_token_lifts_it(
    two_apis: tuple[TestClient, TestClient],
) -> None:
    api = two_apis[0]
    _, auth = _user(api)
    anonymous = [api.get("/trends").status_code for _ in range(7)]
    assert anonymous[:5] == [200] * 5 and anonymous[5:] == [429, 429]
    assert api.get("/trends", headers={"Authorization": "Bearer not-a-token"}).status_code == 429
    assert api.get("/trends", headers=auth).status_code == 200


def test_limits_off_lets_a_burst_through(api: TestClient, uniq: str) -> None:
    """The session's API runs with CHIRP_RATE_LIMITS=off (as `make bench` does)."""
    for i in range(8):
        register(api, f"off{uniq}{i}")
