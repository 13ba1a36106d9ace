"""Notifications end to end: the real API, the real worker, Kafka, Cassandra and Redis; and the Cassandra
store against the same contract as the memory fake."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from projections import push
from projections.stores.cassandra_notifications import CassandraNotifications
from tests.integration.support import WorkerProcess, decoded, register, wait_idle
from tests.unit.notification_store_contract import NotificationStoreContract

pytestmark = pytest.mark.integration
Auth = dict[str, str]
_users = itertools.count(int(time.time() * 1000) << 8)


@pytest.fixture(scope="module")
def session(settings: Settings) -> Iterator[Any]:
    from infra import cassandra

    cluster, s = cassandra.connect(settings, settings.keyspace)
    yield s
    cluster.shutdown()


class TestCassandraStore(NotificationStoreContract):
    @pytest.fixture(autouse=True)
    def _session(self, session: Any) -> None:
        self.session = session

    def store(self) -> CassandraNotifications:
        return CassandraNotifications(self.session)

    def user(self) -> int:
        return next(_users)


class People:
    def __init__(self, api: TestClient, settings: Settings, worker: WorkerProcess, tag: str) -> None:
        self.api, self.settings, self.worker, self.tag = api, settings, worker, tag
        self.auth: dict[str, Auth] = {}

    def user(self, name: str) -> str:
        uid, auth = register(self.api, f"{name}_{self.tag}")
        self.auth[uid] = auth
        return uid

    def handle(self, name: str) -> str:
        return f"{name}_{self.tag}"

    def post(self, uid: str, content: str, reply_to: str | None = None) -> str:
        body: dict[str, Any] = {"user_id": uid, "content": content}
        if reply_to:
            body["reply_to"] = reply_to
        r = self.api.post("/tweets", headers=self.auth[uid], json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["tweet_id"])

    def ok(self, r: Any, code: int = 204) -> None:
        assert r.status_code == code, r.text

    def feed(self, uid: str, **params: Any) -> dict[str, Any]:
        r = self.api.get("/notifications", headers=self.auth[uid], params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def kinds(self, uid: str) -> list[tuple[str, str, str | None]]:
        return [(n["type"], n["account"]["user_id"], (n["tweet"] or {}).get("tweet_id"))
                for n in self.feed(uid, limit=100)["notifications"]]  # fmt: skip

    def idle(self) -> None:
        wait_idle(self.settings, self.worker)


@pytest.fixture
def people(api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str) -> People:
    return People(api, settings, worker, uniq)


def test_each_kind_reaches_its_recipient_and_undo_removes_it(people: People) -> None:
    p = people
    ann, ben, cat = p.user("ann"), p.user("ben"), p.user("cat")
    original = p.post(ann, f"hello @{p.handle('ben')} and @{p.handle('ann')} and @nobody_{p.tag}")
    reply = p.post(ben, f"@{p.handle('ann')} hi, cc @{p.handle('cat').upper()}", reply_to=original)
    p.ok(p.api.post(f"/tweets/{original}/like", headers=p.auth[cat]))
    p.ok(p.api.post(f"/tweets/{original}/like", headers=p.auth[ann]))  # own tweet: nothing
    p.ok(p.api.post("/follow", headers=p.auth[ben], json={"follower_id": ben, "followee_id": ann}))
    p.idle()
    assert p.kinds(ann) == [("follow", ben, None), ("like", cat, original), ("reply", ben, reply)]
    assert p.kinds(ben) == [("mention", ann, original)]
    assert p.kinds(cat) == [("mention", ben, reply)]
    first = p.feed(ann)["notifications"][1]
    assert first["account"] == {"user_id": cat, "handle": p.handle("cat"), "display_name": p.handle("cat").title()}
    assert first["tweet"]["content"].startswith("hello") and first["tweet"]["like_count"] == 2
    assert first["read"] is False and first["created_at"]
    posted = [
        e for e in decoded(p.settings, "tweets") if e["event_type"] == "TweetPosted" and str(e["tweet_id"]) == reply
    ]
    assert posted[0]["mentions"] == [int(ann), int(cat)]  # resolved into the event

    p.ok(p.api.delete(f"/tweets/{original}/like", headers=p.auth[cat]))
    p.ok(p.api.delete("/follow", headers=p.auth[ben], params={"follower_id": ben, "followee_id": ann}))
    p.ok(p.api.delete(f"/tweets/{reply}", headers=p.auth[ben]))
    p.idle()
    assert p.kinds(ann) == [] and p.kinds(cat) == []
    assert p.kinds(ben) == [("mention", ann, original)]
    assert p.api.get("/notifications", params={"types": "poke"}, headers=p.auth[ben]).status_code == 422
    assert p.feed(ben, types="like")["notifications"] == []


def test_paging_unread_count_and_a_read_marker_kept_in_the_log(people: People) -> None:
    p = people
    star = p.user("star")
    fans = [p.user(f"fan{i}") for i in range(5)]
    for f in fans:
        p.ok(p.api.post("/follow", headers=p.auth[f], json={"follower_id": f, "followee_id": star}))
    p.idle()
    pages, cursor = [], None
    while True:
        body = p.feed(star, limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append([n["account"]["user_id"] for n in body["notifications"]])
        assert body["unread_count"] == 5
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(x) for x in pages] == [2, 2, 1] and list(itertools.chain(*pages)) == list(reversed(fans))
    ids = [n["id"] for n in p.feed(star)["notifications"]]
    assert p.api.get("/notifications/unread_count", headers=p.auth[star]).json() == {"unread_count": 5}

    r = p.api.post("/notifications/read", headers=p.auth[star], json={"up_to": ids[2]})
    assert r.status_code == 200 and r.json() == {"up_to": ids[2], "unread_count": 2}, r.text
    r = p.api.post("/notifications/read", headers=p.auth[star], json={"up_to": ids[4]})  # older: no step back
    assert r.json()["up_to"] == ids[2]
    assert p.api.post("/notifications/read", headers=p.auth[star], json={"up_to": "x"}).status_code == 422
    assert p.api.post("/notifications/read", json={}).status_code == 401
    p.idle()
    assert [n["read"] for n in p.feed(star)["notifications"]] == [False, False, True, True, True]
    marks = [
        e for e in decoded(p.settings, "users") if e["event_type"] == "NotificationsRead" and str(e["user_id"]) == star
    ]
    assert [str(m["up_to"]) for m in marks] == [ids[2], ids[4]]
    p.ok(p.api.post("/notifications/read", headers=p.auth[star]), 200)  # everything
    p.idle()
    assert p.feed(star)["unread_count"] == 0
    assert p.api.get("/notifications", headers=p.auth[star], params={"user_id": fans[0]}).status_code == 403


def test_a_notification_is_published_to_a_connected_user(people: People, redis_client: Any) -> None:
    p = people
    ann, ben = p.user("pa"), p.user("pb")
    p.idle()
    base = p.settings.redis_prefix
    redis_client.set(push.presence_key(base, int(ann)), "1", ex=60)
    sub = redis_client.pubsub()
    sub.subscribe(push.channel(base, int(ann)), push.channel(base, int(ben)))
    try:
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        p.ok(p.api.post("/follow", headers=p.auth[ben], json={"follower_id": ben, "followee_id": ann}))
        p.ok(p.api.post("/follow", headers=p.auth[ann], json={"follower_id": ann, "followee_id": ben}))  # ben offline
        deadline = time.monotonic() + 30
        got: list[dict[str, Any]] = []
        while not got and time.monotonic() < deadline:
            m = sub.get_message(timeout=1)
            if m and m["type"] == "message":
                got.append({"channel": m["channel"].decode(), **json.loads(m["data"])})
        assert got, "no notification published"
        msg = got[0]
        assert msg["channel"] == push.channel(base, int(ann)) and msg["event"] == "notification"
        assert msg["data"]["type"] == "follow" and msg["data"]["account"]["user_id"] == ben
        assert msg["data"] == p.feed(ann)["notifications"][0]
        assert msg["id"] == msg["data"]["id"]  # the cursor, as next_cursor spells it: the id itself
        p.idle()
        rest = sub.get_message(timeout=0.5)
        assert rest is None or rest["type"] != "message", rest  # ben has no presence key: nothing for him
    finally:
        sub.close()
        redis_client.delete(push.presence_key(base, int(ann)))
