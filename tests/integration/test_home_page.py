"""home.lua (one round trip) against the two it replaces on the read path, read.lua then hydrate.lua, on
hand-made Redis data: ids past 2^53 (Lua numbers are doubles), celebrities, duplicates, a horizon, misses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.settings import Settings
from projections.stores.keys import RedisKeys
from projections.stores.redis import RedisTimelines
from projections.timeline import encode_entry, horizon_entry, id_bytes
from schemas.ids import MAX_ID

pytestmark = pytest.mark.integration

USER, FRIEND, CELEB = 7, 2**53 + 1, MAX_ID - 5
TWEETS = {  # tweet id -> author
    3: FRIEND,
    2**53 - 1: FRIEND,
    2**53 + 1: CELEB,
    2**53 + 3: FRIEND,
    10**18: USER,
    10**18 + 7: CELEB,
    MAX_ID - 1: FRIEND,
    MAX_ID: CELEB,
}
MISSING = 2**60 + 1  # in the timeline, never cached in Redis


@pytest.fixture
def prefix(settings: Settings, redis_client: Any) -> Iterator[str]:
    p = f"{settings.redis_prefix}hp{uuid.uuid4().hex[:6]}:"
    r, k = redis_client, RedisKeys(p)
    r.hset(k.user(USER), mapping={"h": "me", "n": "Me"})
    r.hset(k.user(FRIEND), mapping={"h": "friend", "n": "Friend"})
    r.hset(k.user(CELEB), mapping={"h": "celeb", "n": "Célèbre"})
    for t, a in TWEETS.items():
        r.hset(k.tweet(t), mapping={"a": a, "c": f"tweet {t}", "ts": 1_700_000_000_000_000 + t % 1000,
                                      "r": "", "m": "", **({"d": 1} if t == 2**53 + 3 else {})})  # fmt: skip
    r.sadd(k.likes(MAX_ID - 1), 1, 2, 3)
    r.sadd(k.replies(MAX_ID - 1), 9)
    r.set(k.celebrity(CELEB), 1)
    r.set(k.celebrity(12345), 1)
    r.sadd(k.celebrities_followed(USER), CELEB)
    r.sadd(k.following(USER), FRIEND, CELEB)
    # The user's timeline holds their friend's tweets and one celebrity tweet pushed before the account
    # became a celebrity (also in the celebrity's list: a duplicate to drop). Horizon: 3.
    own = [t for t, a in TWEETS.items() if a != CELEB] + [2**53 + 1, MISSING]
    r.rpush(k.timeline(USER), *sorted({encode_entry(t, TWEETS.get(t, FRIEND)) for t in own}), horizon_entry(3))
    celeb = [t for t, a in TWEETS.items() if a == CELEB]
    r.zadd(k.user_tweets(CELEB), {horizon_entry(0): 0, **{encode_entry(t, CELEB): 0 for t in celeb}})
    yield p
    for key in r.scan_iter(k.everything()):
        r.delete(key)


def both(settings: Settings, prefix: str, before: int | None, limit: int) -> tuple[Any, Any]:
    import redis.asyncio as aioredis

    async def run() -> tuple[Any, Any]:
        client = aioredis.Redis.from_url(settings.redis_url)
        tl = RedisTimelines(client, prefix, 800, 1000, 3600)
        try:
            new = await tl.home_page(USER, before, limit)
            old = await tl.read(USER, before, limit)
            if old is None:
                return new, None
            entries = [e for e in old.entries if e[0] > old.horizon][:limit]
            return new, (entries, old.horizon, await tl.hydrate(entries))
        finally:
            await client.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("limit", [1, 3, 8, 20])
@pytest.mark.parametrize("before", [None, MAX_ID, 10**18 + 7, 2**53 + 1, 4])
def test_home_page_equals_read_then_hydrate(settings: Settings, prefix: str, before: int | None, limit: int) -> None:
    new, old = both(settings, prefix, before, limit)
    assert new is not None and old is not None
    page, views = new
    entries, horizon, hydrated = old
    assert page.entries == entries and page.horizon == horizon == 3
    assert views == hydrated
    assert all(t > 3 and (before is None or t < before) for t, _ in page.entries)


def test_home_page_reads_exact_ids_and_fields(settings: Settings, prefix: str) -> None:
    (page, views), _ = both(settings, prefix, None, 20)
    assert [t for t, _ in page.entries] == sorted([*(t for t in TWEETS if t > 3), MISSING], reverse=True)
    assert MISSING not in views and set(views) == {t for t in TWEETS if t > 3}
    top = views[MAX_ID - 1]
    assert (top.author_id, top.content, top.like_count, top.reply_count) == (FRIEND, f"tweet {MAX_ID - 1}", 3, 1)
    assert top.author is not None and top.author.handle == "friend"
    assert views[2**53 + 3].deleted and views[MAX_ID].author is not None
    assert views[MAX_ID].author.display_name == "Célèbre"


def test_home_page_of_a_timeline_that_is_not_there(settings: Settings, prefix: str, redis_client: Any) -> None:
    redis_client.delete(RedisKeys(prefix).timeline(USER))
    assert both(settings, prefix, None, 20) == (None, None)


def test_lua_prints_every_id_exactly(redis_client: Any) -> None:
    """readlib.lua's `decimal(halves(...))` for random ids and the edges of its limbs."""
    import random

    from projections.stores.redis import LUA

    script = redis_client.register_script(
        (LUA / "lib.lua").read_text() + (LUA / "readlib.lua").read_text() + "return decimal(halves(ARGV[1]))"
    )
    rng = random.Random(5)
    edges = [1, 9, 10**8 - 1, 10**8, 2**32 - 1, 2**32, 2**48, 2**53 + 1, 10**18, MAX_ID]
    ids = edges + [rng.getrandbits(rng.randint(1, 63)) or 1 for _ in range(2000)]
    pipe = redis_client.pipeline(transaction=False)
    for i in ids:
        script(args=[id_bytes(i)], client=pipe)
    assert [x.decode() for x in pipe.execute()] == [str(i) for i in ids]


def test_a_script_redis_does_not_have_is_loaded(settings: Settings, prefix: str) -> None:
    import redis.asyncio as aioredis

    async def run() -> Any:
        client = aioredis.Redis.from_url(settings.redis_url)
        tl = RedisTimelines(client, prefix, 800, 1000, 3600)
        tl._scripts["home"].sha = "0" * 40  # as if Redis had restarted since the script was registered
        try:
            return await tl.home_page(USER, None, 3)
        finally:
            await client.aclose()

    page, _ = asyncio.run(run())
    assert [t for t, _ in page.entries] == [MAX_ID, MAX_ID - 1, 2**60 + 1]
