"""The API's edge: validation, authentication and size limits, with in-memory fakes for the stores.

Every rejected request must append nothing; every accepted one exactly one event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.mastodon.errors import is_mastodon
from infra.settings import Settings
from schemas.events import TweetPosted, UserFollowed, UserRegistered, UserUnfollowed
from tests.fakes.accounts import MemoryAccounts
from tests.fakes.api import memory_wiring
from tests.fakes.eventlog import MemoryEventLog


@pytest.fixture
def log() -> MemoryEventLog:
    return MemoryEventLog()


@pytest.fixture
def accounts() -> MemoryAccounts:
    return MemoryAccounts()


@pytest.fixture
def client(log: MemoryEventLog, accounts: MemoryAccounts) -> Iterator[TestClient]:
    settings = Settings(max_body_bytes=4096)
    w = memory_wiring(settings, log, accounts)
    with TestClient(create_app(settings, w)) as c:
        yield c


def register(client: TestClient, handle: str = "ada_l") -> tuple[str, dict[str, str]]:
    r = client.post("/users", json={"handle": handle, "display_name": "Ada"})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}


def test_register_returns_the_seed_shape(client: TestClient, log: MemoryEventLog) -> None:
    r = client.post("/users", json={"handle": "Ada_L", "display_name": " Ada Lovelace "})
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"user_id", "handle", "display_name", "token"}
    assert body["user_id"].isdigit() and body["display_name"] == "Ada Lovelace"
    (event,) = log.events
    assert isinstance(event, UserRegistered) and str(event.user_id) == body["user_id"]


def test_handles_are_unique_ignoring_case(client: TestClient, log: MemoryEventLog) -> None:
    register(client, "grace")
    r = client.post("/users", json={"handle": "GRACE", "display_name": "x"})
    assert r.status_code == 409 and "taken" in r.json()["detail"]
    assert len(log.events) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"handle": "ab", "display_name": "x"}, "handle"),
        ({"handle": "a" * 31, "display_name": "x"}, "handle"),
        ({"handle": "has-dash", "display_name": "x"}, "handle"),
        ({"handle": "héllo", "display_name": "x"}, "handle"),
        ({"handle": "good_one", "display_name": "   "}, "display_name"),
        ({"handle": "good_one", "display_name": "x" * 51}, "display_name"),
        ({"handle": "good_one"}, "display_name"),
        ({"handle": "good_one", "display_name": "x", "admin": True}, "admin"),
    ],
)
def test_bad_registrations(client: TestClient, log: MemoryEventLog, body: dict[str, Any], field: str) -> None:
    r = client.post("/users", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == field
    assert field in r.json()["message"]
    assert log.events == []


def test_post_tweet(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "hello"})
    assert r.status_code == 201
    body = r.json()
    assert {"tweet_id", "user_id", "content", "reply_to", "created_at"} <= set(body)
    assert body["user_id"] == uid and body["reply_to"] is None and body["tweet_id"].isdigit()
    event = log.events[-1]
    assert isinstance(event, TweetPosted) and event.content == "hello" and event.meta.actor_id == int(uid)


def post(client: TestClient, uid: str, auth: dict[str, str], content: str = "hi") -> str:
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": content})
    assert r.status_code == 201, r.text
    return str(r.json()["tweet_id"])


def test_reply_and_media(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    parent = post(client, uid, auth)
    media = [{"url": "https://cdn.example.com/a.jpg", "type": "image", "alt_text": "a cat"}]
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "re", "reply_to": parent, "media": media})
    assert r.status_code == 201, r.text
    assert r.json()["reply_to"] == parent and r.json()["media"][0]["alt_text"] == "a cat"
    assert log.events[-1].reply_to == int(parent)  # type: ignore[union-attr]


def test_reply_to_an_unknown_or_deleted_tweet_is_404(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "re", "reply_to": "12345"})
    assert r.status_code == 404 and "12345" in r.json()["detail"]
    gone = post(client, uid, auth)
    assert client.delete(f"/tweets/{gone}", headers=auth).status_code == 204
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "re", "reply_to": gone})
    assert r.status_code == 404
    assert client.post(f"/tweets/{gone}/like", headers=auth).status_code == 404
    assert client.patch(f"/tweets/{gone}", headers=auth, json={"content": "x"}).status_code == 404
    assert [type(e).__name__ for e in log.events] == ["UserRegistered", "TweetPosted", "TweetDeleted"]


def test_only_the_author_edits_or_deletes(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    _, other_auth = register(client, "other")
    tweet = post(client, uid, auth)
    assert client.patch(f"/tweets/{tweet}", headers=other_auth, json={"content": "mine now"}).status_code == 403
    assert client.delete(f"/tweets/{tweet}", headers=other_auth).status_code == 403
    assert client.post(f"/tweets/{tweet}/like", headers=other_auth).status_code == 204
    assert client.post(f"/tweets/{tweet}/like", headers=other_auth).status_code == 204  # twice is harmless
    assert [type(e).__name__ for e in log.events[2:]] == ["TweetPosted", "TweetLiked", "TweetLiked"]


def test_following_an_unknown_user_is_404(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    r = client.post("/follow", headers=auth, json={"follower_id": uid, "followee_id": "424242"})
    assert r.status_code == 404 and "424242" in r.json()["detail"]
    assert len(log.events) == 1


@pytest.mark.parametrize(
    ("content", "ok"),
    [
        ("x" * 280, True),
        ("x" * 281, False),
        ("🐦" * 280, True),  # code points, not UTF-16 units or bytes
        ("e\u0301" * 140, True),  # 280 code points as sent (the schema's maxLength), stored NFC: 140
        ("e\u0301" * 280, False),  # 560 as sent, though 280 after NFC
        ("", False),
        ("   ", False),
        ("\u3000\n\t", False),  # unicode whitespace only
        ("nul\x00byte", False),
        ("line one\nline two", True),
    ],
)
def test_content_rules(client: TestClient, log: MemoryEventLog, content: str, ok: bool) -> None:
    uid, auth = register(client)
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": content})
    assert r.status_code == (201 if ok else 422), r.text
    assert len(log.events) == (2 if ok else 1)
    if not ok:
        assert "content" in r.json()["message"]


@pytest.mark.parametrize(
    "extra",
    [
        {"reply_to": "abc"},
        {"reply_to": "-5"},
        {"reply_to": "99999999999999999999"},
        {"reply_to": 1.5},
        {"media": [{"url": "ftp://x/y", "type": "image"}]},
        {"media": [{"url": "https://x/y", "type": "pdf"}]},
        {"media": [{"url": "https://x/y", "type": "image"}] * 5},
        {"retweets": 3},
    ],
)
def test_malformed_tweet_fields(client: TestClient, log: MemoryEventLog, extra: dict[str, Any]) -> None:
    uid, auth = register(client)
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "hi", **extra})
    assert r.status_code == 422, r.text
    assert len(log.events) == 1


def test_writes_need_a_valid_token(client: TestClient, log: MemoryEventLog) -> None:
    uid, _ = register(client)
    body = {"user_id": uid, "content": "hi"}
    assert client.post("/tweets", json=body).status_code == 401
    r = client.post("/tweets", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.post("/tweets", json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post("/tweets/1/like").status_code == 401
    assert client.get("/timeline", params={"user_id": uid}).status_code == 401
    assert client.request("DELETE", "/follow", params={"follower_id": uid, "followee_id": "5"}).status_code == 401
    assert len(log.events) == 1


def test_acting_for_someone_else_is_forbidden(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    other, _ = register(client, "other")
    assert client.post("/tweets", headers=auth, json={"user_id": other, "content": "x"}).status_code == 403
    r = client.post("/follow", headers=auth, json={"follower_id": other, "followee_id": uid})
    assert r.status_code == 403
    assert len(log.events) == 2


def test_follow_and_unfollow(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    other, _ = register(client, "other")
    pair = {"follower_id": uid, "followee_id": other}
    assert client.post("/follow", headers=auth, json=pair).status_code == 204
    assert client.request("DELETE", "/follow", headers=auth, json=pair).status_code == 204
    assert client.delete("/follow", headers=auth, params=pair).status_code == 204
    kinds = [type(e) for e in log.events[2:]]
    assert kinds == [UserFollowed, UserUnfollowed, UserUnfollowed]


@pytest.mark.parametrize(
    "pair",
    [
        {"followee_id": "5"},
        {"follower_id": "SELF", "followee_id": "SELF"},
        {"follower_id": "SELF", "followee_id": "x5"},
        {"follower_id": "SELF", "followee_id": "5", "note": "hi"},
    ],
)
def test_bad_follows(client: TestClient, log: MemoryEventLog, pair: dict[str, str]) -> None:
    uid, auth = register(client)
    pair = {k: uid if v == "SELF" else v for k, v in pair.items()}
    assert client.post("/follow", headers=auth, json=pair).status_code == 422
    assert client.request("DELETE", "/follow", headers=auth, json=pair).status_code == 422
    assert len(log.events) == 1


def test_unfollow_without_ids_is_422(client: TestClient) -> None:
    _, auth = register(client)
    r = client.delete("/follow", headers=auth)
    assert r.status_code == 422 and "follower_id" in r.json()["message"]


def test_self_follow_message_is_clear(client: TestClient) -> None:
    uid, auth = register(client)
    r = client.post("/follow", headers=auth, json={"follower_id": uid, "followee_id": uid})
    assert r.json()["message"] == "followee_id: a user cannot follow themselves"


def test_edit_delete_like_unlike(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    t = post(client, uid, auth)
    r = client.patch(f"/tweets/{t}", headers=auth, json={"content": "new"})
    assert r.status_code == 200 and r.json()["content"] == "new" and r.json()["tweet_id"] == t
    assert client.post(f"/tweets/{t}/like", headers=auth).status_code == 204
    assert client.delete(f"/tweets/{t}/like", headers=auth).status_code == 204
    assert client.delete(f"/tweets/{t}", headers=auth).status_code == 204
    names = [type(e).__name__ for e in log.events[2:]]
    assert names == ["TweetEdited", "TweetLiked", "TweetUnliked", "TweetDeleted"]


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1e5", "99999999999999999999"])
def test_malformed_path_ids(client: TestClient, log: MemoryEventLog, bad: str) -> None:
    _, auth = register(client)
    assert client.patch(f"/tweets/{bad}", headers=auth, json={"content": "x"}).status_code == 422
    assert client.delete(f"/tweets/{bad}", headers=auth).status_code == 422
    assert client.post(f"/tweets/{bad}/like", headers=auth).status_code == 422
    assert len(log.events) == 1


def test_edit_needs_valid_content(client: TestClient, log: MemoryEventLog) -> None:
    _, auth = register(client)
    assert client.patch("/tweets/1", headers=auth, json={"content": " "}).status_code == 422
    assert client.patch("/tweets/1", headers=auth, json={"content": "x", "user_id": "1"}).status_code == 422
    assert len(log.events) == 1


def test_oversized_bodies_get_413(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    big = {"user_id": uid, "content": "x" * 5000}
    assert client.post("/tweets", headers=auth, json=big).status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b'{"user_id": "' + uid.encode() + b'", "content": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    r = client.post("/tweets", headers={**auth, "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413 and "larger than 4096 bytes" in r.json()["detail"]
    assert len(log.events) == 1


def test_kafka_down_gives_503_and_frees_the_handle(
    client: TestClient, log: MemoryEventLog, accounts: MemoryAccounts
) -> None:
    uid, auth = register(client)
    log.fail = True
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "x"})
    assert r.status_code == 503 and "nothing was written" in r.json()["detail"]
    assert r.headers["retry-after"] == "1"
    assert client.post("/users", json={"handle": "later", "display_name": "L"}).status_code == 503
    assert "later" not in accounts.handles and len(accounts.tokens) == 1
    log.fail = False
    register(client, "later")


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        ("/users", "post"), ("/tweets", "post"), ("/tweets/{tweet_id}", "patch"), ("/tweets/{tweet_id}", "delete"),
        ("/follow", "post"), ("/follow", "delete"), ("/tweets/{tweet_id}/like", "post"),
        ("/tweets/{tweet_id}/like", "delete"), ("/healthz", "get"), ("/readyz", "get"),
    }  # fmt: skip
    routes = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert expected <= routes
    for path, method in routes:
        op = spec["paths"][path][method]
        assert op.get("summary") and op.get("tags"), (path, method)
    writes = [(p, m) for p, m in routes if m != "get" and p != "/users"]
    for path, method in writes:
        codes = set(spec["paths"][path][method]["responses"])
        if is_mastodon(path):  # Mastodon's conventions: OAuth answers 400/401, the sign-in form HTML
            assert codes & {"400", "401", "403"} and "413" in codes, (path, method)
        else:
            assert {"401", "422", "503"} <= codes, (path, method)
    assert "examples" in str(spec["components"]["schemas"]["TweetCreate"])


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_notification_kinds_in_the_schema_are_the_projections() -> None:
    from typing import get_args

    from api.routers.notifications import Kind
    from projections.notifications.model import KINDS

    assert get_args(Kind) == KINDS


def test_a_405_names_every_method_of_the_path(client: TestClient) -> None:
    r = client.options("/tweets/123")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
    assert set(client.put("/follow").headers["allow"].split(", ")) == {"POST", "DELETE"}
