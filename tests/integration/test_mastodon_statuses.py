"""The Mastodon API's statuses and timelines against the real services and worker: post (form and JSON, with an
Idempotency-Key), read, reply and context, edit and history, favourites, delete; the home, public and tag
timelines paged by max_id / since_id / min_id and Link headers; read-your-writes (X-Chirp-Position, and the
home timeline showing one's own status at once); and the public timeline's store contract on Cassandra."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from cassandra.cluster import Session
from fastapi.testclient import TestClient

from infra import cassandra
from infra.settings import Settings
from projections.stores.search_cassandra import CassandraSearchStore
from tests.integration.support import WorkerProcess, wait_idle
from tests.integration.test_mastodon_api import bearer, make_app, register
from tests.unit.public_contract import PublicTimelineContract

pytestmark = pytest.mark.integration
Auth = dict[str, str]


@pytest.fixture(scope="module")
def session(settings: Settings) -> Iterator[Session]:
    cluster, s = cassandra.connect(settings, settings.keyspace)
    yield s
    cluster.shutdown()


class TestCassandraPublicTimeline(PublicTimelineContract):
    @pytest.fixture
    def store(self, session: Session) -> CassandraSearchStore:
        return CassandraSearchStore(session, tables="public")


def user(api: TestClient, app: dict[str, Any], name: str) -> tuple[Auth, str]:
    auth = bearer(register(api, app, name)["access_token"])
    return auth, api.get("/api/v1/accounts/verify_credentials", headers=auth).json()["id"]


def post(api: TestClient, auth: Auth, text: str, **extra: Any) -> dict[str, Any]:
    r = api.post("/api/v1/statuses", headers=auth, data={"status": text, **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()]


def test_statuses_post_read_reply_context_edit_history_favourite_delete(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    app = make_app(api)
    ann, ann_id = user(api, app, f"sa{uniq}")
    bob, bob_id = user(api, app, f"sb{uniq}")
    assert api.post(f"/api/v1/accounts/{ann_id}/follow", headers=bob).status_code == 200
    wait_idle(settings, worker)  # a worker in its steady state (a fresh one joins its group first)

    key = {**ann, "Idempotency-Key": f"k{uniq}"}
    first = api.post(
        "/api/v1/statuses", headers=key, data={"status": f"hello @sb{uniq} #t{uniq}", "visibility": "public"}
    )
    assert first.status_code == 200, first.text
    again = api.post(
        "/api/v1/statuses", headers=key, data={"status": f"hello @sb{uniq} #t{uniq}", "visibility": "public"}
    )
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-chirp-position"] == first.headers["x-chirp-position"]
    root = first.json()
    assert root["account"]["id"] == ann_id and root["mentions"][0]["id"] == bob_id and root["favourited"] is False
    assert root["tags"] == [{"name": f"t{uniq}", "url": f"http://testserver/tags/t{uniq}"}]

    # read your own writes: the position of the write, named on a read, is applied when it answers
    got = api.get(f"/api/v1/statuses/{root['id']}", headers={"X-Chirp-Position": first.headers["x-chirp-position"]})
    assert got.status_code == 200 and got.headers["x-chirp-caught-up"] == "true" and got.json()["id"] == root["id"]
    assert api.get("/api/v1/instance", params={"position": "nope"}).status_code == 400

    reply = api.post("/api/v1/statuses", headers=bob, json={"status": "a reply", "in_reply_to_id": root["id"]})
    assert reply.status_code == 200 and reply.json()["in_reply_to_account_id"] == ann_id
    deeper = post(api, ann, "deeper", in_reply_to_id=reply.json()["id"])
    second = post(api, ann, "second reply", in_reply_to_id=root["id"])
    for refused in ({"status": "x", "visibility": "direct"}, {"status": "x", "spoiler_text": "cw"}, {"status": ""},
                    {"status": "x", "in_reply_to_id": "123"}, {"status": "x", "media_ids[]": "99"},
        {"status": "x", "media_ids[]": "4503000062344300966"}, {"status": "x", "poll[options][]": ["a", "b"]},
        {"status": "x", "scheduled_at": "2030-01-01T00:00:00Z"}):  # fmt: skip
        r = api.post("/api/v1/statuses", headers=ann, data=refused)
        assert r.status_code in (404, 422) and "error" in r.json(), (refused, r.text)
    assert api.post("/api/v1/statuses", data={"status": "x"}).status_code == 401
    wait_idle(settings, worker)

    ctx = api.get(f"/api/v1/statuses/{deeper['id']}/context").json()
    assert [s["id"] for s in ctx["ancestors"]] == [root["id"], reply.json()["id"]] and ctx["descendants"] == []
    ctx = api.get(f"/api/v1/statuses/{root['id']}/context").json()
    assert [s["id"] for s in ctx["descendants"]] == [reply.json()["id"], deeper["id"], second["id"]]

    assert api.put(f"/api/v1/statuses/{root['id']}", headers=bob, data={"status": "mine"}).status_code == 403
    other_media = {"status": "x", "media_ids": ["123"]}
    refused = api.put(f"/api/v1/statuses/{root['id']}", headers=ann, json=other_media)  # no such attachment
    assert refused.status_code == 422 and refused.json()["error"].startswith("Validation failed: media"), refused.text
    edited = api.put(f"/api/v1/statuses/{root['id']}", headers=ann, json={"status": "hello, edited", "media_ids": []})
    assert edited.status_code == 200 and edited.json()["edited_at"] and "hello, edited" in edited.json()["content"]
    history = api.get(f"/api/v1/statuses/{root['id']}/history", headers=ann).json()
    assert [h["content"] for h in history][-1] == "<p>hello, edited</p>" and len(history) == 2
    assert f"#<span>t{uniq}</span>" in history[0]["content"] and history[0]["account"]["id"] == ann_id
    source = api.get(f"/api/v1/statuses/{root['id']}/source", headers=ann)  # what clients fetch to edit: at once
    assert source.status_code == 200 and source.json() == {
        "id": root["id"],
        "text": "hello, edited",
        "spoiler_text": "",
    }
    assert api.get(f"/api/v1/statuses/{root['id']}/source", headers=bob).json()["id"] == root["id"]  # anyone's
    assert api.get(f"/api/v1/statuses/{root['id']}/source").status_code == 401
    assert api.get("/api/v1/statuses/1/source", headers=ann).status_code == 404

    fav = api.post(f"/api/v1/statuses/{root['id']}/favourite", headers=bob)
    assert fav.status_code == 200 and fav.json()["favourited"] is True and fav.json()["favourites_count"] == 1
    post_fav = api.post(f"/api/v1/statuses/{second['id']}/favourite", headers=bob)
    assert post_fav.status_code == 200
    favs = api.get("/api/v1/favourites", headers=bob, params={"limit": 1})
    assert ids(favs) == [second["id"]] and favs.json()[0]["favourited"] is True  # read your own writes
    assert ids(api.get(favs.links["next"]["url"].removeprefix("http://testserver"), headers=bob)) == [root["id"]]
    assert api.get("/api/v1/favourites").status_code == 401
    un = api.post(f"/api/v1/statuses/{root['id']}/unfavourite", headers=bob)
    assert un.json()["favourited"] is False and un.json()["favourites_count"] == 0
    assert ids(api.get("/api/v1/favourites", headers=bob)) == [second["id"]]

    gone = api.delete(f"/api/v1/statuses/{second['id']}", headers=ann)
    assert gone.status_code == 200 and gone.json()["text"] == "second reply" and gone.json()["id"] == second["id"]
    assert api.get(f"/api/v1/statuses/{second['id']}").status_code == 404  # at once
    assert api.delete(f"/api/v1/statuses/{root['id']}", headers=bob).status_code == 403
    wait_idle(settings, worker)
    assert second["id"] not in [
        s["id"] for s in api.get(f"/api/v1/statuses/{root['id']}/context").json()["descendants"]
    ]


def test_timelines_page_as_mastodon_does(api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str) -> None:
    app = make_app(api)
    ann, _ = user(api, app, f"ta{uniq}")
    bob, bob_id = user(api, app, f"tb{uniq}")
    assert api.get("/api/v1/timelines/home").status_code == 401
    api.post(f"/api/v1/accounts/{bob_id}/follow", headers=ann)
    wait_idle(settings, worker)
    posted = [post(api, bob, f"n{i} #p{uniq}")["id"] for i in range(7)]  # oldest first
    mine = post(api, ann, "my own")["id"]
    home = api.get("/api/v1/timelines/home", headers=ann, params={"limit": 3})
    assert ids(home)[0] == mine  # read your own writes: one's own status at once, unasked
    wait_idle(settings, worker)

    newest = posted[::-1]
    for path, auth in ((f"/api/v1/timelines/tag/p{uniq}", {}), ("/api/v1/timelines/home", ann),
                       ("/api/v1/timelines/public", {})):  # fmt: skip
        first = api.get(path, headers=auth, params={"limit": 3, "max_id": str(int(mine))})
        assert ids(first) == newest[:3], path
        nxt = api.get(first.links["next"]["url"].removeprefix("http://testserver"), headers=auth)
        assert ids(nxt) == newest[3:6], path
        assert (
            f"min_id={newest[0]}" in first.links["prev"]["url"] and f"max_id={newest[2]}" in first.links["next"]["url"]
        )
        since = api.get(path, headers=auth, params={"since_id": posted[0], "limit": 2, "max_id": mine})
        assert ids(since) == newest[:2], path  # the newest above since_id
        above = api.get(path, headers=auth, params={"min_id": posted[0], "limit": 2})
        assert ids(above) == [posted[2], posted[1]], path  # the ones immediately above min_id, newest first
        both = api.get(path, headers=auth, params={"min_id": posted[3], "since_id": posted[0], "limit": 2})
        assert ids(both) == [posted[5], posted[4]], path  # min_id wins over since_id
        prev = api.get(above.links["prev"]["url"].removeprefix("http://testserver"), headers=auth)
        assert ids(prev) == [posted[4], posted[3]], path
        assert ids(api.get(path, headers=auth, params={"min_id": mine if "tag" in path else newest[0]})) == (
            [] if "tag" in path else [mine]  # one's own status is on the home and public timelines
        )
    assert ids(api.get("/api/v1/timelines/public", params={"remote": "true"})) == []
    every = ids(api.get("/api/v1/timelines/public", params={"local": "true", "limit": 100}))
    assert mine in every and posted[0] in every and len(every) <= 40  # a limit above 40 is taken as 40
    reply = post(api, bob, f"reply #p{uniq}", in_reply_to_id=posted[0])["id"]
    wait_idle(settings, worker)
    assert reply not in ids(api.get("/api/v1/timelines/public"))  # replies are not on the public timeline
    assert reply in ids(api.get(f"/api/v1/timelines/tag/p{uniq}"))


def test_chirp_writes_carry_a_position_that_reads_wait_for(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    from tests.integration.support import register as chirp_register

    user_id, auth = chirp_register(api, f"pos{uniq}")
    r = api.post("/tweets", headers=auth, json={"user_id": user_id, "content": f"positioned {uniq}"})
    position = r.headers["x-chirp-position"]
    topic, partition, offset = position.rsplit(":", 2)
    assert topic.startswith(settings.topic_prefix) and int(partition) >= 0 and int(offset) >= 0
    start = time.monotonic()
    tl = api.get("/timeline", headers={**auth, "X-Chirp-Position": position}, params={"user_id": user_id})
    assert tl.headers["x-chirp-caught-up"] == "true", time.monotonic() - start
    assert [t["tweet_id"] for t in tl.json()["tweets"]] == [r.json()["tweet_id"]]
    far = f"{topic}:{partition}:{int(offset) + 10**9}"
    late = api.get(f"/tweets/{r.json()['tweet_id']}", params={"position": far})
    assert late.status_code == 200 and late.headers["x-chirp-caught-up"] == "false"
    assert (
        "X-Chirp-Position" in api.get("/openapi.json").json()["paths"]["/tweets"]["post"]["responses"]["201"]["headers"]
    )
