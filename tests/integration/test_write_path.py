"""Writes through the real API land in the real Kafka topics, decodable with only the .avsc files."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from tests.integration.support import AvscDecoder, WorkerProcess, decoded, read_topic, register

pytestmark = pytest.mark.integration


def test_a_post_is_in_the_tweets_topic(api: TestClient, settings: Settings, uniq: str) -> None:
    uid, auth = register(api, f"p{uniq}")
    r = api.post("/tweets", headers=auth, json={"user_id": uid, "content": f"hello {uniq} ✨"})
    assert r.status_code == 201
    tweet = r.json()
    dec = AvscDecoder()
    found = [(m, dec.decode(m.value)) for m in read_topic(settings, "tweets")]
    ((msg, event),) = [(m, e) for m, e in found if str(e["tweet_id"]) == tweet["tweet_id"]]
    assert event["event_type"] == "TweetPosted" and event["schema_version"] == 3
    assert event["content"] == f"hello {uniq} ✨" and event["author_id"] == int(uid) == event["actor_id"]
    assert event["reply_to"] is None and event["media"] == [] and event["mentions"] == []
    assert msg.key == uid.encode()  # keyed by author
    assert msg.headers["event_type"] == b"TweetPosted"


def test_n_posts_give_exactly_n_events(api: TestClient, settings: Settings, uniq: str) -> None:
    uid, auth = register(api, f"n{uniq}")
    n = 25
    ids = set()
    for i in range(n):
        r = api.post("/tweets", headers=auth, json={"user_id": uid, "content": f"post {i}"})
        assert r.status_code == 201
        ids.add(int(r.json()["tweet_id"]))
    mine = [e for e in decoded(settings, "tweets") if e["author_id"] == int(uid)]
    assert len(mine) == n
    assert {e["tweet_id"] for e in mine} == ids
    assert len({e["event_id"] for e in mine}) == n
    partitions = {m.partition for m in read_topic(settings, "tweets") if m.key == uid.encode()}
    assert len(partitions) == 1  # one author's history stays in one partition, in order
    ordered = [e["tweet_id"] for e in mine]
    assert ordered == sorted(ordered)


def test_rejected_requests_write_nothing(api: TestClient, settings: Settings, uniq: str) -> None:
    uid, auth = register(api, f"r{uniq}")
    other, _ = register(api, f"o{uniq}")
    bad = [
        api.post("/tweets", headers=auth, json={"user_id": uid, "content": "   "}),
        api.post("/tweets", headers=auth, json={"user_id": uid, "content": "x" * 281}),
        api.post("/tweets", headers=auth, json={"user_id": other, "content": "impersonation"}),
        api.post("/tweets", json={"user_id": uid, "content": "no token"}),
        api.post("/tweets", headers=auth, json={"user_id": uid, "content": "x", "pinned": True}),
        api.post("/tweets", headers=auth, json={"user_id": uid, "content": "x", "reply_to": "nope"}),
        api.post("/tweets", headers=auth, json={"user_id": uid, "content": "y" * 300_000}),
        api.post("/follow", headers=auth, json={"follower_id": uid, "followee_id": uid}),
        api.post("/follow", headers=auth, json={"follower_id": other, "followee_id": uid}),
        api.post("/tweets/abc/like", headers=auth),
        api.patch("/tweets/1", headers=auth, json={"content": ""}),
        api.post("/users", json={"handle": f"r{uniq}".upper(), "display_name": "dup"}),
        api.post("/users", json={"handle": "x!", "display_name": "bad"}),
    ]
    assert [r.status_code for r in bad] == [422, 422, 403, 401, 422, 422, 413, 422, 403, 422, 422, 409, 422]
    actors = {int(uid), int(other)}
    for topic in ("tweets", "follows", "likes"):
        assert [e for e in decoded(settings, topic) if e["actor_id"] in actors] == [], topic
    users = [e for e in decoded(settings, "users") if e.get("handle", "").lower() in (f"r{uniq}", f"o{uniq}", "x!")]
    assert len(users) == 2


def test_every_command_lands_in_its_topic_with_its_key(api: TestClient, settings: Settings, uniq: str) -> None:
    a, auth_a = register(api, f"a{uniq}")
    b, _ = register(api, f"b{uniq}")
    t = api.post("/tweets", headers=auth_a, json={"user_id": a, "content": "first"}).json()["tweet_id"]
    reply = api.post(
        "/tweets",
        headers=auth_a,
        json={"user_id": a, "content": "reply", "reply_to": t,
              "media": [{"url": "https://cdn.example.com/m/1.gif", "type": "gif", "alt_text": "dancing"}]},
    )  # fmt: skip
    assert reply.status_code == 201
    assert api.patch(f"/tweets/{t}", headers=auth_a, json={"content": "first, edited"}).status_code == 200
    assert api.post("/follow", headers=auth_a, json={"follower_id": a, "followee_id": b}).status_code == 204
    assert api.delete("/follow", headers=auth_a, params={"follower_id": a, "followee_id": b}).status_code == 204
    assert api.post(f"/tweets/{t}/like", headers=auth_a).status_code == 204
    assert api.delete(f"/tweets/{t}/like", headers=auth_a).status_code == 204
    assert api.delete(f"/tweets/{t}", headers=auth_a).status_code == 204

    dec = AvscDecoder()

    def events(topic: str) -> list[tuple[bytes | None, dict[str, Any]]]:
        return [(m.key, e) for m in read_topic(settings, topic) if (e := dec.decode(m.value))["actor_id"] == int(a)]

    tweets = events("tweets")
    assert [e["event_type"] for _, e in tweets] == [
        "TweetPosted",
        "TweetPosted",
        "TweetEdited",
        "TweetDeleted",
    ]
    assert all(k == a.encode() for k, _ in tweets)
    assert tweets[1][1]["reply_to"] == int(t) and tweets[1][1]["media"][0]["alt_text"] == "dancing"
    assert tweets[2][1]["content"] == "first, edited"
    follows = events("follows")
    assert [e["event_type"] for _, e in follows] == ["UserFollowed", "UserUnfollowed"]
    assert all(k == b.encode() for k, _ in follows)  # keyed by followee
    likes = events("likes")
    assert [e["event_type"] for _, e in likes] == ["TweetLiked", "TweetUnliked"]
    assert all(k == t.encode() for k, _ in likes)  # keyed by tweet
    users = [(m.key, dec.decode(m.value)) for m in read_topic(settings, "users")]
    assert [(k, e["handle"]) for k, e in users if e["user_id"] == int(a)] == [(a.encode(), f"a{uniq}")]


def test_tokens_never_appear_in_any_topic(api: TestClient, settings: Settings, uniq: str) -> None:
    r = api.post("/users", json={"handle": f"s{uniq}", "display_name": "Secret"})
    token = r.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    api.post("/tweets", headers=auth, json={"user_id": r.json()["user_id"], "content": "hi"})
    secret = token.removeprefix("chirp_").encode()
    from schemas.topics import ALL_TOPICS

    for topic in ALL_TOPICS:
        for m in read_topic(settings, topic.name):
            assert secret[:16] not in m.value and secret[:16] not in (m.key or b"")
            assert all(secret[:16] not in v for v in m.headers.values())


def test_readyz_checks_the_three_services(api: TestClient) -> None:
    r = api.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"kafka": True, "cassandra": True, "redis": True}, "worker": "ok"}


def test_topics_keep_events_forever(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from schemas.topics import ALL_TOPICS

    async def configs() -> dict[str, dict[str, str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            names = [t.kafka_name(settings.topic_prefix) for t in ALL_TOPICS]
            resp = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
            out: dict[str, dict[str, str]] = {}
            for r in resp:
                for res in r.resources:
                    out[res[3]] = {c[0]: c[1] for c in res[4]}
            return out
        finally:
            await admin.close()

    found = asyncio.run(configs())
    assert len(found) == len(ALL_TOPICS)
    for name, cfg in found.items():
        assert cfg["retention.ms"] == "-1" and cfg["retention.bytes"] == "-1", name
        compacted = any(t.compacted and t.kafka_name(settings.topic_prefix) == name for t in ALL_TOPICS)
        assert cfg["cleanup.policy"] == ("compact" if compacted else "delete"), name  # compacted: state, not events


def test_migrations_are_idempotent(settings: Settings) -> None:
    from infra.cassandra import connect
    from infra.migrate import migrate, migration_files

    said: list[str] = []
    migrate(settings, report=said.append)
    assert said == []  # nothing left to do the second time
    cluster, session = connect(settings, settings.keyspace)
    try:
        versions = sorted(r.version for r in session.execute("SELECT version FROM schema_migrations"))
        tables = {r.table_name for r in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (settings.keyspace,))}  # fmt: skip
    finally:
        cluster.shutdown()
    assert versions == [v for v, _, _ in migration_files()]
    assert {"handles", "auth_tokens", "schema_migrations"} <= tables


def test_a_deleted_tweet_is_gone_at_once_for_reads_and_commands(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    """The delete is answered once Kafka has it; reads and later commands see it before the worker does."""
    from tests.integration.support import wait_idle

    uid, auth = register(api, f"gone{uniq}")
    tweet = api.post("/tweets", headers=auth, json={"user_id": uid, "content": "soon gone"}).json()["tweet_id"]
    wait_idle(settings, worker)
    assert api.get(f"/tweets/{tweet}").status_code == 200
    assert api.delete(f"/tweets/{tweet}", headers=auth).status_code == 204
    assert api.get(f"/tweets/{tweet}").status_code == 404
    assert api.get(f"/tweets/{tweet}/replies").status_code == 404
    assert api.patch(f"/tweets/{tweet}", headers=auth, json={"content": "too late"}).status_code == 404


def test_a_follow_then_unfollow_end_unfollowed_whatever_the_clocks_said(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    """The unfollow comes later in the log but was made by a host whose clock is an hour behind: Cassandra
    must still end as the log says (its write timestamps come from the log, not from the events' clocks)."""
    from datetime import UTC, datetime, timedelta

    from schemas.codec import default_codec
    from schemas.events import Meta, UserFollowed, UserUnfollowed
    from schemas.topics import key_for
    from tests.integration.support import produce_to, wait_idle

    a, _ = register(api, f"skewa{uniq}")
    b, _ = register(api, f"skewb{uniq}")
    now = datetime.now(UTC)
    follow = UserFollowed(Meta.new(int(a), now), int(a), int(b))
    unfollow = UserUnfollowed(Meta.new(int(a), now - timedelta(hours=1)), int(a), int(b))
    codec = default_codec()
    produce_to(settings, "follows", *[(key_for(e), codec.encode(e)) for e in (follow, unfollow)])
    wait_idle(settings, worker)
    following = api.get(f"/users/{a}/following").json()["users"]
    assert following == []
    assert api.get(f"/users/{a}").json()["following_count"] == 0
