"""Trends end to end: the real API and worker, then the store itself against real Redis (redelivery, a
replay into a new version prefix)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra import redisnodes
from infra.settings import Settings
from projections.projector import Projector
from projections.stores.keys import RedisKeys
from projections.stores.redis_trends import RedisTrends
from schemas.codec import default_codec
from schemas.events import Event
from tests.integration.support import WorkerProcess, read_topic, register, wait_idle
from tests.unit.test_projector_extras import Nothing

pytestmark = pytest.mark.integration


def mine(api: TestClient, tag: str, window: str = "1h") -> dict[str, dict[str, Any]]:
    r = api.get("/trends", params={"window": window, "limit": 50})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["window"] == window and body["as_of"]
    return {t["hashtag"]: t for t in body["trends"] if t["hashtag"].endswith(tag)}


def post(api: TestClient, uid: str, auth: dict[str, str], content: str) -> str:
    r = api.post("/tweets", headers=auth, json={"user_id": uid, "content": content})
    assert r.status_code == 201, r.text
    tweet_id: str = r.json()["tweet_id"]
    return tweet_id


def test_trends_count_tags_folded_and_follow_edits_and_deletes(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    a, auth_a = register(api, f"tra_{uniq}")
    b, auth_b = register(api, f"trb_{uniq}")
    hot, warm, cold = f"hot{uniq}", f"warm{uniq}", f"cold{uniq}"
    post(api, a, auth_a, f"#Hot{uniq} and again #HOT{uniq}, with #{warm}")  # one tweet counts a tag once
    post(api, a, auth_a, f"still #hot{uniq}")
    post(api, b, auth_b, f"me too #hot{uniq} #{warm}")
    edited = post(api, b, auth_b, f"#{cold} for now")
    gone = post(api, b, auth_b, f"#{cold} #{hot} soon deleted")
    wait_idle(settings, worker)
    t = mine(api, uniq)
    assert [t[x]["tweets"] for x in (hot, warm, cold)] == [4, 2, 2]
    assert [t[x]["accounts"] for x in (hot, warm, cold)] == [2, 2, 1]
    assert t[hot]["name"] == f"#Hot{uniq}"  # as first written
    assert list(t) == [hot, cold, warm]  # most tweets first; ties by tag
    assert mine(api, uniq, "1d") == t

    assert api.patch(f"/tweets/{edited}", headers=auth_b, json={"content": f"now #{warm}"}).status_code == 200
    assert api.delete(f"/tweets/{gone}", headers=auth_b).status_code == 204
    wait_idle(settings, worker)
    t = mine(api, uniq)
    assert cold not in t  # its only tweets were edited away and deleted
    assert (t[hot]["tweets"], t[hot]["accounts"], t[warm]["tweets"]) == (3, 2, 3)


def test_bad_window_or_limit_is_a_422_saying_what_is_wrong(api: TestClient) -> None:
    for params in ({"window": "1w"}, {"limit": 0}, {"limit": 51}, {"limit": "x"}):
        r = api.get("/trends", params=params)
        assert r.status_code == 422, params
        assert r.json()["message"].startswith(f"query.{next(iter(params))}: "), r.json()
    assert api.get("/trends").json()["window"] == "1h"


def events_of(settings: Settings) -> list[Event]:
    codec = default_codec()
    return [codec.decode(m.value) for m in read_topic(settings, "tweets") if m.value[2:10] in codec.by_fingerprint]


async def dump(client: Any, prefix: str) -> dict[bytes, Any]:
    """Every trends key of one version with its value and absolute expiry."""
    out: dict[bytes, Any] = {}
    for pattern in RedisTrends(client, prefix).key_patterns():
        async for key in client.scan_iter(match=pattern, count=1000):
            kind = await client.type(key)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            value: Any = {
                "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                "hash": client.hgetall,
                "string": client.get,
            }[kind](key)
            out[key[len(prefix) :]] = (await value, await client.expiretime(key))
    return out


async def drop(client: Any, prefix: str) -> None:
    async for key in client.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
        await client.delete(key)


def test_redelivery_does_not_double_and_a_replay_rebuilds_the_same_trends(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    from projections.versions import Version
    from streams.replay import rebuild

    a, auth = register(api, f"trr_{uniq}")
    first = post(api, a, auth, f"#re{uniq} #twice{uniq}")
    post(api, a, auth, f"#re{uniq}")
    assert api.patch(f"/tweets/{first}", headers=auth, json={"content": f"#re{uniq} #moved{uniq}"}).status_code == 200
    wait_idle(settings, worker)
    events = events_of(settings)
    live, redelivered, replayed = (
        settings.redis_prefix,
        f"{settings.redis_prefix}trd{uniq}:",
        f"{settings.redis_prefix}trp{uniq}:",
    )

    async def run() -> None:
        nodes = await redisnodes.open_nodes(settings)  # one Redis, or a cluster (make test-cluster)
        client: Any = nodes.client
        try:
            projector = Projector(Nothing(), Nothing(), [RedisTrends(nodes, redelivered)])  # type: ignore[arg-type]
            await projector.apply_batch(events)
            once = await dump(client, redelivered)
            await projector.apply_batch(events)  # the same events again: a redelivery
            await projector.apply_batch(events[len(events) // 2 :])  # and a partial one
            assert await dump(client, redelivered) == once
            now = datetime.now(UTC)
            top = await RedisTrends(nodes, redelivered).top("1h", now, 50)
            counts = {t.tag: t.tweets for t in top if t.tag.endswith(uniq)}
            assert counts == {f"re{uniq}": 2, f"moved{uniq}": 1}

            scratch = Version(f"trp{uniq}", "building", "")  # its prefix is `replayed`
            await rebuild(settings, scratch, "timelines", f"{settings.topic_prefix}trp{uniq}", show=False)
            live_dump, replay_dump = await dump(client, live), await dump(client, replayed)
            assert replay_dump == live_dump and any(k.endswith(uniq.encode()) for k in live_dump)
            assert await RedisTrends(nodes, replayed).top("1d", now, 50) == await RedisTrends(nodes, live).top(
                "1d", now, 50
            )
        finally:
            await drop(client, redelivered)
            await drop(client, replayed)
            await nodes.aclose()

    asyncio.run(run())


def test_a_burst_of_reads_computes_the_trends_once_until_they_change(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trends = api.app.state.wiring.trends  # type: ignore[attr-defined]
    computed: list[int] = []
    real = trends._read

    async def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(trends, "_read", counting)
    uid, auth = register(api, f"trc_{uniq}")
    wait_idle(settings, worker)
    params = {"window": "1d", "limit": 37}
    first = [api.get("/trends", params=params).json()["trends"] for _ in range(5)]
    assert len(computed) == 1 and all(t == first[0] for t in first)
    post(api, uid, auth, f"#fresh{uniq}")
    wait_idle(settings, worker)
    after = api.get("/trends", params=params).json()["trends"]
    assert len(computed) == 2 and f"fresh{uniq}" in {t["hashtag"] for t in after}  # exact, never stale


def test_tweets_counted_in_one_script_call_leave_what_one_call_each_leaves(settings: Settings, uniq: str) -> None:
    """trends_write.lua counts a batch's tweets several per call and sets each key's expiry once per call; a key a
    delete emptied (Redis removed it) and a later tweet of the call created again still gets its expiry."""
    from schemas.events import Meta, TweetDeleted, TweetEdited, TweetPosted
    from schemas.ids import IdGenerator

    ids = IdGenerator(node_id=7)
    now = datetime.now(UTC)
    a, b = ids.next_id(), ids.next_id()
    t1, t2, t3 = ids.next_id(), ids.next_id(), ids.next_id()
    tag = f"one{uniq}"
    events: list[Event] = [
        TweetPosted(Meta("e1", now, a), t1, a, f"#{tag} first"),
        TweetDeleted(Meta("e2", now, a), t1, a),  # the tag's hashes and its place in the buckets emptied
        TweetPosted(Meta("e3", now, b), t2, b, f"#{tag} again #two{uniq}"),  # and made again
        TweetPosted(Meta("e4", now, a), t3, a, f"#two{uniq}"),
        TweetEdited(Meta("e5", now, b), t2, b, f"#two{uniq} only"),
    ]
    batched, single = f"{settings.redis_prefix}trb{uniq}:", f"{settings.redis_prefix}trs{uniq}:"

    async def run() -> None:
        nodes = await redisnodes.open_nodes(settings)
        client: Any = nodes.client
        try:
            authors: dict[int, tuple[int, int | None]] = {t1: (a, None), t2: (b, None), t3: (a, None)}
            together = RedisTrends(nodes, batched, per_call=64).writes()
            for e in events:
                together.apply(e, authors)
            await together.flush()
            for e in events:
                alone = RedisTrends(nodes, single, per_call=1).writes()
                alone.apply(e, authors)
                await alone.flush()
            mine, theirs = await dump(client, batched), await dump(client, single)
            assert mine == theirs and mine
            assert all(expiry > 0 for _, expiry in mine.values())  # every key expires
            top = {t.tag: t.tweets for t in await RedisTrends(nodes, batched).top("1h", now, 50)}
            assert top.get(f"two{uniq}") == 2 and f"one{uniq}" not in top
        finally:
            await drop(client, batched)
            await drop(client, single)
            await nodes.aclose()

    asyncio.run(run())
