"""Idempotency-Key against the real Redis and Kafka: a retried write is one event, answered as the first."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from infra import redisnodes
from infra.settings import Settings
from tests.integration.support import decoded, register


def _posted_with(settings: Settings, content: str) -> list[dict[str, object]]:
    return [e for e in decoded(settings, "tweets") if e.get("content") == content]


def test_a_post_repeated_with_one_key_is_one_tweet_answered_the_same(
    api: TestClient, settings: Settings, uniq: str
) -> None:
    user, auth = register(api, f"idem{uniq}")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"user_id": user, "content": f"once {uniq}"}
    first = api.post("/tweets", json=body, headers={**auth, **key})
    assert first.status_code == 201, first.text
    again = [api.post("/tweets", json=body, headers={**auth, **key}) for _ in range(3)]
    assert {r.status_code for r in again} == {201}
    assert {r.json()["tweet_id"] for r in again} == {first.json()["tweet_id"]}
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in again)
    assert "Idempotent-Replayed" not in first.headers
    assert len(_posted_with(settings, body["content"])) == 1


def test_the_same_key_with_another_body_is_422_and_writes_nothing(
    api: TestClient, settings: Settings, uniq: str
) -> None:
    user, auth = register(api, f"idem2{uniq}")
    key = {"Idempotency-Key": f"k-{uniq}"}
    assert (
        api.post("/tweets", json={"user_id": user, "content": f"a {uniq}"}, headers={**auth, **key}).status_code == 201
    )
    other = api.post("/tweets", json={"user_id": user, "content": f"b {uniq}"}, headers={**auth, **key})
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert _posted_with(settings, f"b {uniq}") == []


def test_keys_belong_to_their_caller_and_without_a_key_each_post_is_new(
    api: TestClient, settings: Settings, uniq: str
) -> None:
    alice, alice_auth = register(api, f"idem3a{uniq}")
    bob, bob_auth = register(api, f"idem3b{uniq}")
    key = {"Idempotency-Key": f"shared-{uniq}"}
    a = api.post("/tweets", json={"user_id": alice, "content": f"mine {uniq}"}, headers={**alice_auth, **key})
    b = api.post("/tweets", json={"user_id": bob, "content": f"mine {uniq}"}, headers={**bob_auth, **key})
    assert a.status_code == b.status_code == 201
    assert a.json()["tweet_id"] != b.json()["tweet_id"]
    for _ in range(2):
        api.post("/tweets", json={"user_id": alice, "content": f"twice {uniq}"}, headers=alice_auth)
    assert len(_posted_with(settings, f"twice {uniq}")) == 2


def test_a_refused_write_is_not_kept_and_a_bad_key_is_422(api: TestClient, uniq: str) -> None:
    user, auth = register(api, f"idem4{uniq}")
    key = {"Idempotency-Key": f"retry-{uniq}"}
    refused = api.post("/tweets", json={"user_id": user, "content": ""}, headers={**auth, **key})
    assert refused.status_code == 422
    assert "Idempotent-Replayed" not in refused.headers
    replayed = api.post("/tweets", json={"user_id": user, "content": ""}, headers={**auth, **key})
    assert replayed.headers.get("Idempotent-Replayed") == "true"  # a settled answer: the same 422
    too_long = {"Idempotency-Key": "x" * 256}
    assert api.post("/tweets", json={"user_id": user, "content": "hi"}, headers={**auth, **too_long}).status_code == 422


def test_the_schema_documents_the_header_on_writes(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    post = spec["paths"]["/tweets"]["post"]
    assert "Idempotency-Key" in post["description"]
    assert "409" in post["responses"]
    assert "Idempotency-Key" not in str(spec["paths"]["/tweets/{tweet_id}"]["get"])


def test_a_retry_after_an_unconfirmed_append_writes_the_same_tweet_not_another(
    api: TestClient, settings: Settings, uniq: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kafka took the event but the acknowledgement never came: the retry hands out the same ids, so the
    log may hold the event twice but never two tweets."""
    from infra.eventlog import EventLogUnavailable

    user, auth = register(api, f"idem5{uniq}")
    events = api.app.state.wiring.events  # type: ignore[attr-defined]
    real_append = events.append

    async def taken_but_unconfirmed(event: object) -> None:
        await real_append(event)
        raise EventLogUnavailable("acknowledgement lost", maybe_written=True)

    key = {"Idempotency-Key": f"unsure-{uniq}"}
    body = {"user_id": user, "content": f"unsure {uniq}"}

    async def refused(event: object) -> None:
        raise EventLogUnavailable("broker unreachable", maybe_written=False)

    monkeypatch.setattr(events, "append", taken_but_unconfirmed)
    first = api.post("/tweets", json=body, headers={**auth, **key})
    assert first.status_code == 503 and "may have been written" in first.json()["detail"]
    monkeypatch.setattr(events, "append", refused)  # a retry Kafka certainly refuses: the first may still count
    assert api.post("/tweets", json=body, headers={**auth, **key}).status_code == 503
    monkeypatch.undo()
    retry = api.post("/tweets", json=body, headers={**auth, **key})
    assert retry.status_code == 201
    logged = _posted_with(settings, body["content"])
    assert len(logged) == 2  # the event twice: one tweet id, one event id
    assert {e["tweet_id"] for e in logged} == {int(retry.json()["tweet_id"])}
    assert len({e["event_id"] for e in logged}) == 1
    assert api.post("/tweets", json=body, headers={**auth, **key}).headers["Idempotent-Replayed"] == "true"


async def test_a_lease_whose_holder_died_is_resumed_with_the_ids_it_recorded(settings: Settings) -> None:
    """The process holding a key dies mid-write (its lease lapses unanswered): the retry must use the ids the
    lease recorded, since the write may be in the log."""
    from api.idempotency import IdempotencyStore, Identities
    from schemas.ids import TOOL_NODES, IdGenerator

    nodes = await redisnodes.open_nodes(settings)  # one Redis, or a cluster (make test-cluster)
    client = nodes.client
    store = IdempotencyStore(nodes, f"{settings.redis_prefix}idemdied:", ttl_s=60, lease_s=0)
    try:
        ids = IdGenerator(TOOL_NODES[0])
        first, retry = Identities(ids), Identities(ids)
        first.plan(2)
        assert await store.begin("user", "key", "digest", first) is None  # holds the key, then dies
        retry.plan(2)
        stored = await store.begin("user", "key", "digest", retry)
        assert stored is not None and stored["state"] == "uncertain"
        assert stored["ids"] == first.reuse_ids and stored["events"] == first.reuse_events
    finally:
        await client.delete(store._key("user", "key"))
        await nodes.aclose()
