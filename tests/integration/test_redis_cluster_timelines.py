"""The timelines store on a real Redis Cluster (three primaries on 127.0.0.1-3) does what it does on one Redis:
the same writes, replayed on both, give every reader the same pages, hydrated the same way, whether the
reader's celebrities, tweets and authors are on the reader's node or on others, and whether the timeline was
materialized before the writes or rebuilt after them (node by node)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from infra import redisnodes
from infra.redisnodes import RedisNodes
from infra.settings import Settings
from projections.model import TweetView
from projections.stores.keys import RedisKeys
from projections.stores.redis import ELSEWHERE, Pacing, RedisTimelines, Replicas, remove_keys
from tests.integration.support import local_redis_cluster, until

pytestmark = pytest.mark.integration

READERS = list(range(101, 113))
AUTHORS = list(range(1, 10))
CELEBRITY = 9  # followed by every reader: above the threshold


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with local_redis_cluster(tmp_path_factory.mktemp("rediscluster"), per_address=1) as s:
        yield s


def store(client: aioredis.Redis | RedisNodes, prefix: str, push: bool = True) -> RedisTimelines:
    return RedisTimelines(
        client, prefix, 10, 10, 3600, push=push, pacing=Pacing(chunk=2, round=8, yield_s=0), rebuild_chunk=2
    )


async def contents(client: Any, prefix: str) -> dict[str, Any]:
    """Every key under `prefix` (its name without it) and its value, whatever its type."""
    out: dict[str, Any] = {}
    read: dict[str, Callable[[bytes], Awaitable[Any]]] = {
        "set": client.smembers,
        "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        "hash": client.hgetall,
        "list": lambda k: client.lrange(k, 0, -1),
        "string": client.get,
    }
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = (await client.type(key)).decode()
        out[key.decode()[len(prefix) :]] = (kind, await read[kind](key))
    return out


@pytest.fixture
async def pair(settings: Settings, cluster: Settings) -> AsyncIterator[tuple[RedisTimelines, RedisTimelines]]:
    """The same store on the shared single Redis and on the cluster, under one fresh prefix."""
    prefix = f"{settings.redis_prefix}rc{uuid.uuid4().hex[:6]}:"
    one = aioredis.Redis.from_url(settings.redis_url)
    nodes = redisnodes.connect(cluster)
    await nodes.refresh()
    yield store(one, prefix), store(nodes, prefix)
    async for key in one.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
        await one.delete(key)
    await one.aclose()
    await nodes.aclose()


def tweet(tweet_id: int, author: int, reply_to: int | None = None) -> TweetView:
    return TweetView(tweet_id, author, f"t{tweet_id} by {author}", datetime(2026, 11, 30, tzinfo=UTC), reply_to)


async def replay(tl: RedisTimelines) -> None:
    """One history: users, follows (every reader follows the celebrity), posts, a reply, likes, an edit, a
    delete, an unfollow; half the readers materialized before it, the other half rebuilt after."""
    await tl.rebuild_many(READERS[::2])
    await history(tl)
    await tl.rebuild_many(READERS[1::2])


async def history(tl: RedisTimelines) -> None:
    w = tl.writes()
    for u in AUTHORS + READERS:
        w.save_user(u, f"user{u}", f"User {u}")
    for r in READERS:
        for a in AUTHORS:
            if a == CELEBRITY or (r + a) % 3:
                w.follow(r, a)
    await w.flush()
    t = 10_000
    for round_ in range(4):
        w = tl.writes()
        for a in AUTHORS:
            t += 1
            w.post(tweet(t, a, reply_to=t - 1 if round_ == 3 and a == 2 else None))
        await w.flush()
    w = tl.writes()
    w.like(10_005, 101, True)
    w.like(10_005, 102, True)
    w.edit(10_012, "edited", datetime(2026, 11, 30, 1, tzinfo=UTC))
    w.delete(10_020, 2, None)
    w.unfollow(103, 4)
    w.follow(104, 4)  # and one followed again in the same batch
    w.unfollow(104, 4)
    w.follow(104, 4)
    await w.flush()


def shown(page: Any) -> list[tuple[int, str, str, int, bool]]:
    entries, views = page
    return [
        (t, views[t].content, views[t].author.handle if views[t].author else "", views[t].like_count, views[t].deleted)
        for t, _ in entries.entries
    ]


async def test_every_reader_sees_on_a_cluster_what_one_redis_shows(pair: tuple[RedisTimelines, RedisTimelines]) -> None:
    one, spread = pair
    assert spread.nodes.spread and len(spread.nodes.primaries()) == 3
    await replay(one)
    await replay(spread)
    homes = {spread.nodes.for_key(spread.keys.timeline(r)) for r in READERS}
    assert len(homes) == 3  # readers on every node: some pages are all local, most are not
    celebrity_node = spread.nodes.for_key(spread.keys.user_tweets(CELEBRITY))
    marked = 0
    for r in READERS:
        home = spread._home(r)
        raw = await spread._on(home, "home", r, b"", 20, 3600, b"")
        assert raw[0] == (1 if home is celebrity_node else 2)  # 2: the celebrity's list is elsewhere
        marked += raw[0] == 1 and ELSEWHERE in raw[3 + raw[2] :]  # tweets hydrated elsewhere
        page = await spread.home_page(r, None, 20)
        assert page is not None and shown(page) == shown(await one.home_page(r, None, 20))
        ids = [t for t, _ in page[0].entries]
        assert ids and all(page[1][t].author is not None for t in ids)  # every author found, wherever it is
        assert any(a == CELEBRITY for _, a in page[0].entries)  # the celebrity's list, read on its node
        older = await spread.home_page(r, ids[2], 5)
        assert older is not None and shown(older) == shown(await one.home_page(r, ids[2], 5))
        newer = await spread.home_page(r, None, 20, after=ids[4])
        assert newer is not None and [t for t, _ in newer[0].entries] == ids[:4]
        assert await spread.read(r, None, 20) == await one.read(r, None, 20)
    assert marked  # some pages were read on the reader's node and hydrated on others
    assert await spread.materialized_users() == await one.materialized_users() == READERS


async def test_a_view_cache_on_a_cluster_hears_every_node(pair: tuple[RedisTimelines, RedisTimelines]) -> None:
    """Views kept by a reader of the cluster: one link per primary, pages equal to those hydrated in Redis,
    before and after changes to tweets, likes and authors on every node."""
    _, spread = pair
    await replay(spread)
    cached = RedisTimelines(spread.nodes, spread.p, 10, 10, 3600, view_cache=1000, view_ping_s=0.2)
    cached.start_views()
    try:
        await until(lambda: cached.views is not None and cached.views.live)
        assert cached._tracker is not None and len(cached._tracker._links) == 3
        for _ in range(2):  # the second time from the cache
            for r in READERS:
                page, expected = await cached.home_page(r, None, 20), await spread.home_page(r, None, 20)
                assert page is not None and expected is not None and shown(page) == shown(expected)
        assert cached.views is not None and cached.views.hits > 0
        w = spread.writes()
        for t in range(10_001, 10_037, 5):
            w.like(t, 101, True)
        w.edit(10_013, "edited on its node", datetime(2026, 11, 30, 2, tzinfo=UTC))
        for a in AUTHORS:
            w.save_user(a, f"user{a}", f"Renamed {a}")
        await w.flush()
        await cached.sync_views()
        for r in READERS:
            page, expected = await cached.home_page(r, None, 20), await spread.home_page(r, None, 20)
            assert page is not None and expected is not None and shown(page) == shown(expected)
            assert all(v.author is None or v.author.display_name.startswith("Renamed") for v in page[1].values())
    finally:
        await cached.stop_views()


async def test_hydration_finds_tweets_and_authors_on_every_node(pair: tuple[RedisTimelines, RedisTimelines]) -> None:
    one, spread = pair
    for tl in (one, spread):
        w = tl.writes()
        for a in AUTHORS:
            w.save_user(a, f"user{a}", f"User {a}")
            w.post(tweet(20_000 + a, a))
        await w.flush()
    pairs = [(20_000 + a, a) for a in AUTHORS] + [(29_999, 1)]  # the last is unknown everywhere
    views = await spread.hydrate(pairs)
    assert views == await one.hydrate(pairs)
    assert sorted(views) == [20_000 + a for a in AUTHORS]
    assert {v.author.handle for v in views.values() if v.author} == {f"user{a}" for a in AUTHORS}


async def test_lookups_and_key_removal_span_the_nodes(pair: tuple[RedisTimelines, RedisTimelines]) -> None:
    one, spread = pair
    for tl in (one, spread):
        await replay(tl)
        await tl.mark_pending(30_001, 5)
    handles = [f"user{u}" for u in AUTHORS + READERS] + ["nobody"]
    owners = await spread.handle_owners(handles)
    assert owners == await one.handle_owners(handles) and len(owners) == len(AUTHORS + READERS)
    starting = await one.handles_from("USER1", 1_000)  # account search by a handle's start, in handle order
    assert starting == await spread.handles_from("user1", 1_000)
    assert sorted(starting) == sorted(u for u in AUTHORS + READERS if str(u).startswith("1")) != []
    assert starting == sorted(starting, key=lambda u: f"user{u}") and await one.handles_from("user1", 2) == starting[:2]
    assert await spread.users(AUTHORS) == await one.users(AUTHORS)
    assert await spread.authors([10_001, 10_036]) == await one.authors([10_001, 10_036])
    assert await spread.tweet_state(30_001) == (5, False) == await one.tweet_state(30_001)
    assert await spread.counts(CELEBRITY) == await one.counts(CELEBRITY) == (len(READERS), 0)
    removed = await remove_keys(spread.nodes, [spread.keys.everything()])
    assert removed > 100
    left = [k for node in spread.nodes.primaries() async for k in node.scan_iter(match=spread.keys.everything())]
    assert left == []


async def test_a_write_round_waits_for_replicas_and_goes_on_without_them(settings: Settings) -> None:
    """One Redis has no replica: a store asking for one still applies its writes, and counts the rounds that
    were not replicated (the cluster profile's replicas are tested in test_redis_failover.py)."""
    client = aioredis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_prefix}rw{uuid.uuid4().hex[:6]}:"
    tl = RedisTimelines(client, prefix, 10, 10, 3600, replicas=Replicas(1, 5))
    try:
        w = tl.writes()
        w.save_user(1, "one", "One")
        w.post(tweet(40_001, 1))
        await w.flush()
        assert tl.replicas.short >= 1 and (await tl.users([1]))[1].handle == "one"
    finally:
        await remove_keys(client, [RedisKeys(prefix).everything()])
        await client.aclose()


async def test_a_rebuilds_record_only_pass_leaves_what_the_live_pass_does(
    pair: tuple[RedisTimelines, RedisTimelines],
) -> None:
    """A bulk rebuild's writer (fan-out off: many events per record.lua call, redis_record.py) leaves the same
    keys, key for key, as the live pass's writer on one Redis (followers, followees, celebrities, authors' lists,
    tweets, users, handles, likes, replies, unfollow marks); and the timelines built from them afterwards show
    the same pages there and on the cluster."""
    one, spread = pair
    client = one.r
    live = store(client, one.p + "live:")
    recorded = store(client, one.p + "rec:", push=False)
    on_cluster = store(spread.nodes, spread.p + "rec:", push=False)
    for tl in (live, recorded, on_cluster):
        await history(tl)
    mine = await contents(client, recorded.p)
    assert mine == await contents(client, live.p)
    assert {k.split(":")[0] for k in mine} >= {"fo", "fg", "fc", "cb", "ur", "t", "u", "hk", "hs", "lk", "rp", "uf"}
    for tl in (live, recorded, on_cluster):
        assert await tl.rebuild_many(READERS) == len(READERS)
    for r in READERS:
        page = await recorded.home_page(r, None, 20)
        assert page is not None and shown(page)
        assert shown(page) == shown(await live.home_page(r, None, 20)) == shown(await on_cluster.home_page(r, None, 20))
    assert await recorded.counts(CELEBRITY) == await on_cluster.counts(CELEBRITY) == (len(READERS), 0)
