"""A Redis Cluster on this machine (three primaries on 127.0.0.1-3, started by the launcher for this module
and stopped after): keys are grouped by the node that serves them, and a script that touches keys of several
local slots runs where they live."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from infra import redisnodes
from infra.settings import Settings
from projections.stores.keys import RedisKeys
from tests.integration.support import local_redis_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with local_redis_cluster(tmp_path_factory.mktemp("rediscluster"), per_address=1) as s:
        yield s


async def test_keys_are_grouped_by_the_node_that_serves_them(cluster: Settings) -> None:
    nodes = redisnodes.connect(cluster)
    try:
        await nodes.refresh()
        keys = RedisKeys("t:")
        users = list(range(1, 200))
        groups = nodes.group(users, keys.timeline)
        assert len(groups) == 3 and sorted(u for _, part in groups for u in part) == users
        for client, part in groups:
            for u in part:  # each key is served by the node its group went to: no MOVED
                await client.set(keys.timeline(u), u)
        assert [await nodes.client.get(keys.timeline(u)) for u in users] == [str(u).encode() for u in users]
    finally:
        await nodes.aclose()


# Every Redis user besides the timelines store, on the cluster: each store's real operations, with keys that
# land on every node (users 1..30 spread over the three primaries).

USERS = list(range(1, 31))


def _spread(nodes: redisnodes.RedisNodes, keys: list[str]) -> int:
    """How many nodes serve `keys` (the test must cross nodes to mean anything)."""
    return len({id(nodes.for_key(k)) for k in keys})


@pytest.fixture
async def nodes(cluster: Settings) -> AsyncIterator[redisnodes.RedisNodes]:
    n = redisnodes.connect(cluster)
    await n.refresh()
    yield n
    await n.aclose()


async def test_id_leases_are_acquired_renewed_and_released_on_each_node(nodes: redisnodes.RedisNodes) -> None:
    from projections.stores.keys import node_lease
    from projections.stores.redis_nodes import RedisNodeLeases

    numbers = range(0, 12)
    leases = RedisNodeLeases(nodes, "idl:", numbers)
    assert _spread(nodes, [node_lease("idl:", n)[0] for n in numbers]) == 3
    got = [await leases.acquire(f"holder{i}", 60_000, 1_000_000) for i in numbers]
    held = sorted(g[0] for g in got if g is not None)
    assert held == list(numbers) and all(g is not None and g[2] == 1_060_000 for g in got)
    assert await leases.acquire("late", 60_000, 1_000_000) is None  # every node is held
    node = got[0][0] if got[0] else -1
    assert await leases.renew(node, "holder0", 60_000, 2_000_000)
    assert not await leases.renew(node, "someone else", 60_000, 2_000_000)
    await leases.release(node, "someone else")  # not theirs: kept
    assert await leases.holder(node) == b"holder0"
    await leases.release(node, "holder0")
    assert await leases.holder(node) is None
    again = await leases.acquire("next", 60_000, 1_500_000)
    assert again is not None and again[:2] == (node, 2_000_000)  # above what the renewal allowed


async def test_stream_leases_are_claimed_per_user_on_each_node(nodes: redisnodes.RedisNodes) -> None:
    from projections.stores.keys import stream_leases
    from projections.stores.redis_streams import RedisStreamLeases

    leases = RedisStreamLeases(nodes, "sl:", ttl_s=30)
    assert _spread(nodes, [stream_leases("sl:", u) for u in USERS]) == 3
    for u in USERS:
        assert await leases.claim(u, f"a{u}", cap=2) and await leases.claim(u, f"b{u}", cap=2)
        assert not await leases.claim(u, f"c{u}", cap=2)
    async with nodes.client.pipeline(transaction=False) as pipe:  # the heartbeat's renewal, across nodes
        leases.renew(pipe, [(u, f"a{u}") for u in USERS])
        await pipe.execute()
    for u in USERS:
        await leases.release(u, f"b{u}")
        assert await leases.claim(u, f"c{u}", cap=2)


class _Actors:
    """The timeline read side's users (its own store is converted apart): every actor is someone."""

    async def hydrate(self, pairs: Sequence[tuple[int, int]]) -> list[Any]:
        return []

    async def users(self, ids: Sequence[int]) -> list[Any]:
        from projections.model import UserView

        return [UserView(i, f"user{i}", f"User {i}") for i in ids]


async def test_notifications_marks_unread_counts_authors_and_pushes(
    nodes: redisnodes.RedisNodes, settings: Settings
) -> None:
    from infra import cassandra
    from projections import push
    from projections.notifications import Insert, Notification, NotificationFeed, notification_id
    from projections.stores.cassandra import CassandraProjections
    from projections.stores.cassandra_notifications import CassandraNotifications
    from projections.stores.keys import read_mark
    from projections.stores.redis_notifications import RedisPendingMarks, RedisPublisher, StoreTweetAuthors

    cass, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    try:
        store = CassandraNotifications(session)
        pending = RedisPendingMarks(nodes, "nt:")
        feed = NotificationFeed(store, _Actors(), pending)
        base = int(time.time() * 1000) << 8
        users = [base + u for u in USERS]
        assert _spread(nodes, [read_mark("nt:", u) for u in users]) == 3
        now = datetime.now(UTC)
        notes = {u: [Notification(u, notification_id(now, f"c{u}:{i}"), "follow", 7, None, now) for i in range(3)]
                 for u in users}  # fmt: skip
        await store.write([Insert(n, (), n.created_at) for ns in notes.values() for n in ns])
        for u in users:
            ids = sorted(n.notification_id for n in notes[u])
            assert await feed.unread_count(u) == 3
            await pending.set(u, ids[1])
            await pending.set(u, ids[0])  # never backwards
            assert await pending.get(u) == ids[1] and await feed.unread_count(u) == 1

        authors = StoreTweetAuthors(nodes, "nt:", await asyncio.to_thread(CassandraProjections, session))
        keys = RedisKeys("nt:")
        tweets = list(range(base, base + 30))
        for t in tweets[:10]:
            await nodes.client.hset(keys.tweet(t), mapping={"a": t % 7 + 1})
        for t in tweets[10:20]:
            await nodes.client.set(keys.pending(t), t % 5 + 1)
        await nodes.client.set(keys.pending(tweets[20]), "-")  # rejected: no author
        await nodes.client.hset(keys.tweet(tweets[21]), mapping={"a": 1, "d": 1})  # deleted
        got = await authors.live_authors(tweets)  # the rest: Cassandra, which knows none of them
        assert got == {t: t % 7 + 1 for t in tweets[:10]} | {t: t % 5 + 1 for t in tweets[10:20]}

        online = users[:6]
        ch = [push.channel("nt:", u) for u in online]
        assert _spread(nodes, ch) > 1
        for u in online:
            await nodes.client.set(push.presence_key("nt:", u), 1, ex=60)
        listener = nodes.primaries()[0].pubsub()  # one node hears every channel
        await listener.subscribe(*ch)
        for _ in ch:
            assert (await listener.get_message(timeout=5))["type"] == "subscribe"
        await RedisPublisher(nodes, "nt:", feed)._publish([n for u in users for n in notes[u]])
        heard: dict[int, int] = {}
        while len(heard) < len(online) or sum(heard.values()) < 3 * len(online):
            msg = await listener.get_message(timeout=5)
            assert msg is not None, f"heard only {heard}"
            user = push.user_of_channel("nt:", msg["channel"])
            assert user is not None
            heard[user] = heard.get(user, 0) + 1
        assert heard == dict.fromkeys(online, 3)  # the online users only, every notification each
        await listener.aclose()  # type: ignore[no-untyped-call]
    finally:
        cass.shutdown()


async def test_trends_are_written_and_read_on_their_node(nodes: redisnodes.RedisNodes) -> None:
    from projections.stores.redis_trends import RedisTrends
    from schemas.events import Meta, TweetDeleted, TweetPosted
    from schemas.ids import IdGenerator

    ids = IdGenerator(5)
    now = datetime.now(UTC)
    trends = RedisTrends(nodes, "tr1:", clock=lambda: now)
    texts = [(1, "#Rustlang and #golang"), (2, "#rustlang"), (3, "#golang #ziglang"), (4, "#rustlang")]
    posts = [TweetPosted(Meta(str(i), now, a), ids.next_id(), a, text) for i, (a, text) in enumerate(texts)]
    writes = trends.writes()
    for e in posts:
        writes.apply(e, {})
    await writes.flush()
    top = await trends.top("1h", now, 3)
    assert [(t.tag, t.tweets, t.accounts) for t in top] == [("rustlang", 3, 3), ("golang", 2, 2), ("ziglang", 1, 1)]
    assert top[0].display == "Rustlang"  # the earliest tweet's form
    writes = trends.writes()
    writes.apply(TweetDeleted(Meta("d", now, 2), posts[1].tweet_id, 2), {})
    writes.apply(posts[0], {})  # redelivered: counted once
    await writes.flush()
    top = await RedisTrends(nodes, "tr1:", clock=lambda: now).top("1h", now, 3)
    assert [(t.tag, t.tweets) for t in top] == [("golang", 2), ("rustlang", 2), ("ziglang", 1)]


async def test_versions_switch_in_one_transaction(nodes: redisnodes.RedisNodes) -> None:
    from projections.stores.keys import legacy_registry_keys, registry_keys
    from projections.versions import VersionRegistry

    assert not redisnodes.same_slot(list(legacy_registry_keys("vr:")))  # why the names changed
    registry = VersionRegistry(nodes, "vr:")
    assert (await registry.live()).name == "v1"
    v2 = await registry.create("rebuilt")
    await registry.set_state(v2.name, "ready")
    old = await registry.promote(v2.name)
    assert old.name == "v1" and (await registry.live()).name == "v2"
    assert {v.name: v.state for v in await registry.all()} == {"v1": "retired", "v2": "live"}
    assert await nodes.client.get(registry_keys("vr:")[1]) == b"v2"

    # a registry under the names it had before the hash tag is moved to the new names when read
    versions, live = legacy_registry_keys("old:")
    await nodes.client.hset(versions, "v2", json.dumps({"name": "v2", "state": "live", "created_at": ""}))
    await nodes.client.set(live, "v2")
    assert (await VersionRegistry(nodes, "old:").live()).name == "v2"
    assert await nodes.client.exists(versions) == 0 and await nodes.client.exists(live) == 0
    assert (await VersionRegistry(nodes, "old:").live()).name == "v2"


async def test_idempotency_keys_uploads_and_revocations(nodes: redisnodes.RedisNodes) -> None:
    from api.idempotency import IdempotencyStore, Identities
    from api.media import RedisUploads, Upload
    from infra.accounts import TokenRevocations
    from schemas.ids import IdGenerator

    store = IdempotencyStore(nodes.client, "ik:", ttl_s=60, lease_s=30)
    keys = [f"key{i}" for i in range(20)]
    assert _spread(nodes, [store._key("POST /tweets", k) for k in keys]) == 3
    for k in keys:
        planned = Identities(IdGenerator(1))
        planned.plan(2)
        assert await store.begin("POST /tweets", k, "d1", planned) is None  # taken by this request
        running = await store.begin("POST /tweets", k, "d1", Identities(IdGenerator(1)))
        assert running is not None and running["state"] == "running" and running["ids"] == planned.reuse_ids
        await store.finish("POST /tweets", k, "d1", 201, [["content-type", "application/json"]], b"{}")
        done = await store.begin("POST /tweets", k, "d1", Identities(IdGenerator(1)))
        assert done is not None and done["state"] == "done" and done["status"] == 201

    uploads = RedisUploads(nodes.client, "up:")
    for m in range(10):
        await uploads.save(m, Upload(m, f"k{m}", "image", "image/png", 10 + m, None), ttl_s=60)
    saved = [await uploads.get(m) for m in range(10)]
    assert [(u.owner, u.size_bytes) for u in saved if u] == [(m, 10 + m) for m in range(10)]

    revocations = TokenRevocations(nodes.client, "tk:")
    assert await revocations.since_last() == []
    await revocations.revoke(b"\x01" * 8)
    await revocations.revoke(b"\x02" * 8)
    assert await revocations.since_last() == [b"\x01" * 8, b"\x02" * 8]


async def test_rate_limits_count_hits_of_every_process(cluster: Settings) -> None:
    from api.ratelimit import RateLimits

    s = cluster.model_copy(update={"rate_limits": "on", "rate_limit_posts": "3/minute", "operator_token": "op"})
    a, b = RateLimits(s), RateLimits(s)  # two API processes
    assert type(a.storage).__name__ == "RedisClusterStorage"
    verdicts = []
    for who in (f"user{i}" for i in range(12)):  # users whose counters are on every node
        verdicts.append([await (a if n % 2 else b).hit("posts", who) for n in range(4)])
    for v in verdicts:
        assert all(x is not None for x in v)
        assert [x.allowed for x in v if x] == [True, True, True, False]
        assert v[3] is not None and v[3].remaining == 0


async def test_the_push_hub_hears_a_published_message_on_any_node(cluster: Settings) -> None:
    from api.push import PushHub
    from projections import push

    s = cluster.model_copy(update={"redis_prefix": "ph:"})
    nodes = redisnodes.connect(s)
    await nodes.refresh()
    picked = [redisnodes.node_client(s, nodes, n) for n in range(3)]  # each reconnection tries the next node
    assert len({one.connection_pool.connection_kwargs["host"] for one in picked}) == 3
    for one in picked:
        await one.aclose()
    hub = PushHub(nodes, s)
    await hub.start()
    try:
        clients = []
        for u in USERS[:9]:
            lease = await hub.claim(u)
            assert lease is not None
            clients.append(await hub.join(u, lease))
            assert await nodes.client.exists(push.presence_key("ph:", u)) == 1
        for c in clients:
            await nodes.client.publish(push.channel("ph:", c.user_id), f"hello {c.user_id}")
        for c in clients:
            async with asyncio.timeout(5):
                assert await c.queue.get() == f"hello {c.user_id}".encode()
        for c in clients:
            hub.leave(c)
    finally:
        await hub.close()
        await nodes.aclose()
