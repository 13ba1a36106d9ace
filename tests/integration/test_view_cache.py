"""The view cache against the real Redis (projections/stores/redis_views.py): pages served from it equal pages
hydrated in Redis, every kind of change reaches it through Redis's invalidations, and a lost link turns it off
until it is tracking again. (A FLUSHDB's message, which names no key, is the unit tests' part: flushing the shared
test Redis would take every other test's data with it.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from infra.settings import Settings
from projections.model import TweetView
from projections.stores.keys import RedisKeys
from projections.stores.redis import RedisTimelines
from tests.integration.support import until

pytestmark = pytest.mark.integration

READER, FRIENDS = 1, [2, 3, 4]
TWEETS = {100 + i: FRIENDS[i % 3] for i in range(30)}  # tweet -> author


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[tuple[RedisTimelines, RedisTimelines, Any]]:
    """A store keeping views and one without, on the same fresh prefix, with one reader's timeline."""
    prefix = f"{settings.redis_prefix}vc{uuid.uuid4().hex[:6]}:"
    client = aioredis.Redis.from_url(settings.redis_url)
    cached = RedisTimelines(client, prefix, 800, 1000, 3600, view_cache=1000, view_ping_s=0.2)
    plain = RedisTimelines(client, prefix, 800, 1000, 3600)
    w = plain.writes()
    for u in [READER, *FRIENDS]:
        w.save_user(u, f"user{u}", f"User {u}")
    for f in FRIENDS:
        w.follow(READER, f)
    await w.flush()
    await plain.rebuild(READER)
    w = plain.writes()
    for t, a in TWEETS.items():
        w.post(TweetView(t, a, f"tweet {t}", datetime(2026, 12, 2, tzinfo=UTC)))
    await w.flush()
    cached.start_views()
    assert cached.views is not None
    await until(lambda: cached.views is not None and cached.views.live)
    yield cached, plain, client
    await cached.stop_views()
    async for key in client.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
        await client.delete(key)
    await client.aclose()


def shown(page: Any) -> list[tuple[int, str, str, str, int, int, bool]]:
    entries, views = page
    return [
        (t, v.content, v.author.handle, v.author.display_name, v.like_count, v.reply_count, v.deleted)
        for t, _ in entries.entries
        for v in [views[t]]
        if v.author is not None
    ]


async def test_pages_from_the_cache_equal_pages_hydrated_in_redis(
    stores: tuple[RedisTimelines, RedisTimelines, Any],
) -> None:
    cached, plain, _ = stores
    assert cached.views is not None
    seen: set[int] = set()
    for before, limit in [(None, 20), (None, 5), (120, 7), (105, 20)]:
        first = await cached.home_page(READER, before, limit)
        hits = cached.views.hits
        again = await cached.home_page(READER, before, limit)
        expected = await plain.home_page(READER, before, limit)
        assert first is not None and again is not None and expected is not None
        assert shown(first) == shown(again) == shown(expected)
        assert len(shown(expected)) == min(limit, len([t for t in TWEETS if before is None or t < before]))
        assert first[0] == again[0] == expected[0]
        assert cached.views.hits - hits == len(again[0].entries)  # the second page came from the cache
        seen |= {t for t, _ in first[0].entries}
    assert len(cached.views) == len(seen)  # every view shown, kept once


async def test_every_change_a_page_shows_reaches_the_cache(stores: tuple[RedisTimelines, RedisTimelines, Any]) -> None:
    cached, plain, _ = stores
    await cached.home_page(READER, None, 30)
    w = plain.writes()
    w.like(129, 5, True)
    w.like(128, 5, True)
    w.like(128, 6, True)
    w.edit(127, "edited", datetime(2026, 12, 2, 1, tzinfo=UTC))
    w.delete(126, TWEETS[126], None)
    w.post(TweetView(131, 2, "a reply", datetime(2026, 12, 2, 2, tzinfo=UTC), reply_to=125))
    w.save_user(3, "user3", "Renamed")
    await w.flush()
    await cached.sync_views()  # what the worker applied is what the cache shows, from here on
    page, expected = await cached.home_page(READER, None, 31), await plain.home_page(READER, None, 31)
    assert page is not None and shown(page) == shown(expected)
    views = page[1]
    assert (views[129].like_count, views[128].like_count, views[127].content) == (1, 2, "edited")
    assert 126 not in views or views[126].deleted  # taken out of the timeline, or shown deleted
    assert views[125].reply_count == 1 and views[131].reply_to == 125
    assert {v.author.display_name for v in views.values() if v.author_id == 3 and v.author} == {"Renamed"}


async def test_a_lost_link_turns_the_cache_off_until_it_tracks_again(
    stores: tuple[RedisTimelines, RedisTimelines, Any],
) -> None:
    cached, plain, client = stores
    views = cached.views
    assert views is not None
    await cached.home_page(READER, None, 30)
    assert len(views) == len(TWEETS)
    name = f"chirp-views:{cached.p}"
    killed = [c for c in await client.client_list() if c.get("name") == name]
    assert len(killed) == 1 and "t" in killed[0]["flags"]  # our link: a client with tracking on
    await client.client_kill_filter(_id=killed[0]["id"])
    await until(lambda: not views.live)
    assert len(views) == 0
    w = plain.writes()
    w.edit(129, "changed while the link was down", datetime(2026, 12, 2, 1, tzinfo=UTC))
    await w.flush()
    page = await cached.home_page(READER, None, 30)  # served while off: hydrated in Redis
    assert page is not None and page[1][129].content == "changed while the link was down"
    await until(lambda: views.live)
    again = await cached.home_page(READER, None, 30)
    assert again is not None and shown(again) == shown(page)
    assert [c["id"] for c in await client.client_list() if c.get("name") == name] != [killed[0]["id"]]
