"""The fan-out against the real Redis: timelines are lists kept newest first without repeats whatever
order deliveries arrive in, and a tweet to more followers than a chunk is delivered in bounded script
calls (with continuations after the rest of the batch) to every follower exactly once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from infra.settings import Settings
from projections.model import TweetView
from projections.stores.keys import RedisKeys
from projections.stores.redis import Pacing, RedisTimelines, RedisTimelineWrites

AUTHOR = 7


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[tuple[RedisTimelines, aioredis.Redis]]:
    client = aioredis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_prefix}fan{uuid.uuid4().hex[:6]}:"
    yield RedisTimelines(client, prefix, 10, 10_000, 3600, pacing=Pacing(chunk=3, round=6, yield_s=0)), client
    async for key in client.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
        await client.delete(key)
    await client.aclose()


def tweet(tweet_id: int, author: int = AUTHOR) -> TweetView:
    return TweetView(tweet_id, author, f"t{tweet_id}", datetime.now(UTC))


async def entries(client: Any, tl: RedisTimelines, user: int) -> list[int]:
    return [e.tweet_id for e in await tl.timeline_entries(user)]


async def follow_all(tl: RedisTimelines, followers: list[int]) -> None:
    await tl.rebuild_many(followers)  # materialized (empty) timelines
    w = tl.writes()
    for f in followers:
        w.follow(f, AUTHOR)
    await w.flush()


async def test_a_large_follower_set_is_served_in_chunks_exactly_once(store: Any) -> None:
    tl, client = store
    followers = list(range(100, 120))  # 20 followers, chunks of 3, rounds of 2 chunks
    await follow_all(tl, followers)
    w = tl.writes()
    for t in (1001, 1002, 1003):
        w.post(tweet(t))
    assert await w.flush() == 3 * len(followers)
    for f in followers:
        assert await entries(client, tl, f) == [1003, 1002, 1001]


async def test_chunks_of_several_tweets_reach_each_follower_oldest_first(store: Any) -> None:
    """Two authors with the same 20 followers (7 chunks each): every chunk of the older tweet is delivered
    before the newer tweet's first, so each delivery lands at the head (no inbox), and no copy of a follower
    set is left behind."""
    tl, client = store
    followers = list(range(400, 420))
    await tl.rebuild_many(followers)
    w = tl.writes()
    for f in followers:
        w.follow(f, AUTHOR)
        w.follow(f, AUTHOR + 1)
    await w.flush()
    w = tl.writes()
    w.post(tweet(4002, AUTHOR + 1))
    w.post(tweet(4001, AUTHOR))  # the log has it later; it is delivered first
    w.post(tweet(4003, AUTHOR))
    assert await w.flush() == 3 * len(followers)
    keys = RedisKeys(tl.p)
    for f in followers:
        assert await entries(client, tl, f) == [4003, 4002, 4001]
        assert not await client.exists(keys.inbox(f))
    assert not await client.exists(
        *(keys.fanout_snapshot(a, t) for a, t in ((AUTHOR, 4001), (AUTHOR + 1, 4002), (AUTHOR, 4003)))
    )


async def test_an_unfollow_later_in_the_batch_is_seen_by_the_fan_out(store: Any) -> None:
    tl, client = store
    followers = list(range(500, 510))
    await follow_all(tl, followers)
    w = tl.writes()
    w.post(tweet(5101))
    w.unfollow(505, AUTHOR)
    await w.flush()
    for f in followers:
        assert await entries(client, tl, f) == ([] if f == 505 else [5101])


async def test_a_tweet_deleted_before_its_last_chunk_is_not_delivered_later(store: Any) -> None:
    tl, client = store
    followers = list(range(200, 230))
    await follow_all(tl, followers)
    w = tl.writes()
    w.post(tweet(2001))
    w.delete(2001, AUTHOR, None)  # the same batch: the continuations run after the delete
    await w.flush()
    for f in followers:
        assert await entries(client, tl, f) == []


async def test_out_of_order_and_repeated_deliveries_keep_the_list_sorted(store: Any) -> None:
    tl, client = store
    await follow_all(tl, [300])
    order = [5005, 5001, 5009, 5003, 5009, 5001, 5007, 5002]
    for t in order:
        w = tl.writes()
        w.post(tweet(t))
        await w.flush()
    assert await entries(client, tl, 300) == sorted(set(order), reverse=True)
    page = await tl.read(300, 5007, 3)
    assert page is not None and [e[0] for e in page.entries][:3] == [5005, 5003, 5002]  # (one more: "has more")


async def test_one_batch_reaches_a_follower_in_one_visit_late_repeated_and_new(store: Any) -> None:
    """A batch's tweets for one follower go in together: those newer than the head in one push, an older one
    through the inbox, the head itself not again; the count is of entries that went in."""
    tl, client = store
    await tl.rebuild_many([AUTHOR])
    await follow_all(tl, [600, 601])
    w = tl.writes()
    w.post(tweet(6005))
    assert await w.flush() == 3  # the two followers and the author
    w = tl.writes()
    for t in (6009, 6001, 6005, 6007, 6011):
        w.post(tweet(t))
    assert await w.flush() == 3 * 4  # 6005 is everyone's head already
    for user in (600, 601, AUTHOR):
        assert await entries(client, tl, user) == [6011, 6009, 6007, 6005, 6001]
    page = await tl.read(600, None, 3)
    assert page is not None and [e[0] for e in page.entries][:3] == [6011, 6009, 6007]


async def test_the_cap_moves_the_horizon_and_reads_stop_there(store: Any) -> None:
    tl, client = store
    await follow_all(tl, [400])
    for t in range(6001, 6016):  # 15 tweets, cap 10 (trimmed once past 10 + 10/8)
        w = tl.writes()
        w.post(tweet(t))
        await w.flush()
    got = await entries(client, tl, 400)
    assert got == list(range(6015, 6015 - len(got), -1)) and 10 <= len(got) <= 11
    page = await tl.read(400, None, 20)
    assert page is not None and page.horizon >= 6001
    assert all(e[0] >= page.horizon for e in page.entries)


async def test_unfollow_purges_and_follow_backfills_in_order(store: Any) -> None:
    tl, client = store
    other = 8
    await follow_all(tl, [500])
    w = tl.writes()
    for t in (7001, 7003):
        w.post(tweet(t))
    for t in (7002, 7004):
        w.post(tweet(t, other))  # not followed yet: only in the other author's list
    await w.flush()
    w = tl.writes()
    w.follow(500, other)
    await w.flush()
    assert await entries(client, tl, 500) == [7004, 7003, 7002, 7001]
    w = tl.writes()
    w.unfollow(500, AUTHOR)
    await w.flush()
    assert await entries(client, tl, 500) == [7004, 7002]


def interleave(writes: Any, after: int, action: Callable[[], Awaitable[None]]) -> list[int]:
    """Runs `action` after the `after`-th send of a batch's flush (its steps: record, plan, deliver; a follow's
    followee side, then its follower side), as another process would; returns the sends counted."""
    send, calls = writes._send_all, list[int]()

    async def interleaved(**options: Any) -> Any:
        calls.append(len(calls) + 1)
        sent = await send(**options)
        if len(calls) == after:
            await action()
        return sent

    writes._send_all = interleaved
    return calls


@pytest.mark.parametrize("chunk", [50, 1], ids=["one call", "in parts"])
async def test_a_timeline_built_while_a_follow_is_half_done_gets_the_followees_newest_tweet(
    store: Any, chunk: int
) -> None:
    """A follow's two sides run in two steps (the followee's node, then the follower's), and the worker of
    another partition and a reader run in between: the followee posts a tweet that misses the follower's
    unmaterialized timeline, then a read builds it from the followees listed then. The tweet is not in the
    follow's snapshot of the followee's list, so it reaches the timeline only if the build listed the
    followee: the follower's side of the set is written in the follow's first step."""
    tl, client = store
    builder = RedisTimelines(client, tl.p, 10, 10_000, 3600, pacing=tl.pacing, rebuild_chunk=chunk)
    reader, author = 800, 81
    w = tl.writes()
    w.post(tweet(9500, author))
    await w.flush()
    follow = tl.writes()
    follow.follow(reader, author)

    async def another_worker_then_a_reader() -> None:  # the followee's side is done, the follower's not
        other = tl.writes()
        other.post(tweet(9501, author))
        await other.flush()
        assert await builder.rebuild(reader)

    interleave(follow, 1, another_worker_then_a_reader)
    await follow.flush()
    assert await entries(client, tl, reader) == [9501, 9500]


async def test_a_tweet_planned_before_an_unfollow_is_not_delivered_after_it(store: Any) -> None:
    """The fan-out plans a tweet's followers, then delivers: an unfollow another worker applies in between
    (both sides, the timeline purged) must not see the followee's tweet arrive after it."""
    tl, client = store
    reader = 810
    await follow_all(tl, [reader])
    w = tl.writes()
    w.post(tweet(9600))
    await w.flush()
    post = tl.writes()
    post.post(tweet(9601))

    async def another_worker_unfollows() -> None:  # planned: the followers listed, deliveries not sent
        other = tl.writes()
        other.unfollow(reader, AUTHOR)
        await other.flush()

    calls = interleave(post, 2, another_worker_unfollows)
    await post.flush()
    assert calls == [1, 2, 3] and await entries(client, tl, reader) == []
    again = tl.writes()  # following again: the next tweet is delivered (and the backfill brings the rest)
    again.follow(reader, AUTHOR)
    again.post(tweet(9602))
    await again.flush()
    assert await entries(client, tl, reader) == [9602, 9601, 9600]
    flip = tl.writes()  # unfollowed and followed again in one batch: nothing to drop afterwards
    flip.unfollow(reader, AUTHOR)
    flip.follow(reader, AUTHOR)
    await flip.flush()
    later = tl.writes()
    later.post(tweet(9603))
    await later.flush()
    assert await entries(client, tl, reader) == [9603, 9602, 9601, 9600]


async def test_a_rebuild_merges_the_newest_cap_of_every_followee(store: Any) -> None:
    tl, client = store
    reader, authors = 600, [11, 12, 13, 14, 15]
    w = tl.writes()
    for a in authors:
        w.follow(reader, a)  # the reader's timeline is not materialized: no backfill
    posted: list[int] = []
    for i in range(40):  # 40 tweets over 5 authors (cap 10): some authors' lists are cut by their own cap
        a = authors[(i * 7) % len(authors)] if i % 3 else authors[0]
        t = 9000 + i
        w.post(tweet(t, a))
        posted.append(t)
    await w.flush()
    assert await tl.rebuild_many([reader]) == 1
    got = await entries(client, tl, reader)
    assert got == sorted(posted, reverse=True)[: len(got)] and len(got) == 10
    page = await tl.read(reader, None, 20)
    assert page is not None and page.horizon == got[-1]  # complete above the oldest entry kept


async def test_a_rebuild_reads_the_followees_lists_a_page_at_a_time_and_keeps_the_newest_cap(store: Any) -> None:
    """With a cap above the first page (32 entries here), one prolific followee's list is read in several pages
    and the quiet ones in one: the timeline is still the newest `cap` of them all, its horizon the oldest kept."""
    _, client = store
    tl = RedisTimelines(client, store[0].p, 100, 10_000, 3600, pacing=Pacing(chunk=50, round=200, yield_s=0))
    reader, prolific, quiet = 800, 31, [32, 33, 34, 35, 36, 37, 38]
    w = tl.writes()
    for a in (prolific, *quiet):
        w.follow(reader, a)
    posted: list[int] = []
    for i in range(260):  # 150 by the prolific author (its list cut at the cap), 110 spread over the others
        author = prolific if i % 13 < 8 else quiet[i % len(quiet)]
        w.post(tweet(20_000 + i, author))
        posted.append(20_000 + i)
    await w.flush()
    assert await tl.rebuild_many([reader]) == 1
    got = await entries(client, tl, reader)
    assert got == sorted(posted, reverse=True)[:100]
    page = await tl.read(reader, None, 20)
    assert page is not None and page.horizon == got[-1]


async def test_a_rebuild_materializes_the_newest_rebuild_entries_and_deliveries_fill_it_to_the_cap(store: Any) -> None:
    """CHIRP_REBUILD_ENTRIES below the cap: a materialized timeline starts with that many entries, its horizon at the
    oldest (older pages are read elsewhere), and new deliveries make it grow up to the cap."""
    _, client = store
    tl = RedisTimelines(
        client, store[0].p, 10, 10_000, 3600, pacing=Pacing(chunk=3, round=6, yield_s=0), rebuild_entries=4
    )
    reader, authors = 900, [41, 42, 43]
    w = tl.writes()
    for a in authors:
        w.follow(reader, a)
    for i in range(12):
        w.post(tweet(30_000 + i, authors[i % 3]))
    await w.flush()
    assert await tl.rebuild_many([reader]) == 1
    assert await entries(client, tl, reader) == [30_011, 30_010, 30_009, 30_008]
    page = await tl.read(reader, None, 20)
    assert page is not None and page.horizon == 30_008
    w = tl.writes()
    for i in range(12, 20):
        w.post(tweet(30_000 + i, authors[i % 3]))
    await w.flush()
    assert await entries(client, tl, reader) == list(range(30_019, 30_009, -1))  # the cap, 10


async def test_a_rebuild_in_parts_equals_one_in_a_single_call(store: Any) -> None:
    """A reader following more accounts than a chunk gets the same timeline and horizon, built a chunk of
    followees per script call; reads meanwhile see no timeline (they go to Cassandra)."""
    tl, client = store
    parts = RedisTimelines(client, tl.p, 10, 10_000, 3600, pacing=tl.pacing, rebuild_chunk=2)
    whole, split, authors = 700, 701, [21, 22, 23, 24, 25]
    w = tl.writes()
    for a in authors:
        w.follow(whole, a)
        w.follow(split, a)
    for i in range(40):
        w.post(tweet(9100 + i, authors[(i * 3) % len(authors)]))
    await w.flush()
    assert await tl.rebuild(whole) and await parts.rebuild(split)
    assert await entries(client, tl, split) == await entries(client, tl, whole)
    one, other = await tl.read(whole, None, 20), await parts.read(split, None, 20)
    assert one is not None and other is not None and one.horizon == other.horizon > 0
    keys = RedisKeys(tl.p)
    assert not await client.exists(keys.building(split)) and await client.ttl(keys.timeline(split)) > 60


async def test_a_rebuild_in_parts_misses_no_delivery_and_skips_an_unfollow(store: Any) -> None:
    tl, client = store
    parts = RedisTimelines(client, tl.p, 10, 10_000, 3600, pacing=tl.pacing, rebuild_chunk=1)
    reader, authors = 710, [31, 32, 33]
    w = tl.writes()
    for a in authors:
        w.follow(reader, a)
        w.post(tweet(9200 + a, a))
    await w.flush()
    assert await parts._on(parts._home(reader), "rebuild", *parts._rebuild_args(reader)) == 2  # begun: own tweets only
    assert await parts.read(reader, None, 20) is None  # being built: not served from Redis
    w = tl.writes()
    w.post(tweet(9300, 33))  # delivered to the timeline being built
    w.unfollow(reader, 32)
    await w.flush()
    assert await parts._rebuild_parts(reader)
    assert await entries(client, tl, reader) == [9300, 9233, 9231]


async def test_an_abandoned_rebuild_in_parts_is_begun_again(store: Any) -> None:
    tl, client = store
    parts = RedisTimelines(client, tl.p, 10, 10_000, 3600, pacing=tl.pacing, rebuild_chunk=1)
    reader = 720
    w = tl.writes()
    for a in (41, 42):
        w.follow(reader, a)
        w.post(tweet(9400 + a, a))
    await w.flush()
    assert await parts._on(parts._home(reader), "rebuild", *parts._rebuild_args(reader)) == 2
    keys = RedisKeys(tl.p)
    await client.delete(keys.building(reader), keys.timeline(reader))  # the builder died and both expired
    assert not await parts._rebuild_parts(reader)
    assert await parts.rebuild(reader) and await entries(client, tl, reader) == [9442, 9441]


async def test_an_entry_older_than_a_full_timeline_raises_its_horizon(store: Any) -> None:
    tl, client = store
    await follow_all(tl, [700])
    for t in range(8001, 8011):  # cap 10: full
        w = tl.writes()
        w.post(tweet(t))
        await w.flush()
    w = tl.writes()
    w.post(tweet(7990))  # a late tweet, older than all ten
    w.post(tweet(8005))  # a redelivery
    await w.flush()
    assert await entries(client, tl, 700) == list(range(8010, 8000, -1))
    page = await tl.read(700, None, 20)
    assert page is not None and page.horizon == 7990  # the page continues from Cassandra at and below it
    w = tl.writes()
    w.post(tweet(7995))  # older than every entry again, above the horizon: the horizon rises to it
    await w.flush()
    page = await tl.read(700, None, 20)
    assert page is not None and page.horizon == 7995


async def test_read_pressure_is_a_short_lived_key_every_process_sees(settings: Settings) -> None:
    from projections.stores.redis import ReadPressure

    client = aioredis.Redis.from_url(settings.redis_url)
    base = f"{settings.redis_prefix}p{uuid.uuid4().hex[:6]}:"
    api, worker = ReadPressure(client, base, ttl_ms=300, memo_s=0), ReadPressure(client, base, memo_s=0)
    try:
        assert not await worker.active() and not worker.reading
        await api.mark_reading()  # reads are served, none slow
        assert not await worker.active() and worker.reading
        await api.signal()
        assert await worker.active() and worker.reading
        assert 0 < await client.pttl(api.key) <= 300  # it lapses by itself once reads are fast again
        assert 0 < await client.pttl(api.reading_key) <= 300
    finally:
        await client.delete(api.key, api.reading_key)
        await client.aclose()


async def test_while_timelines_are_read_the_fan_out_sends_small_rounds(settings: Settings) -> None:
    """The same batch (a tweet to 40 followers) in rounds of at most 32 deliveries, then while the API marks
    reads, of at most 8: more round trips, each a short wait for the reads queued behind it; and the same
    timelines either way."""
    from projections.stores.redis import ReadPressure

    client = aioredis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_prefix}rr{uuid.uuid4().hex[:6]}:"
    api, worker = ReadPressure(client, prefix, memo_s=0), ReadPressure(client, prefix, memo_s=0)
    pacing = Pacing(chunk=32, round=32, yield_s=0, pressure=worker, reading_round=8)
    tl = RedisTimelines(client, prefix, 10, 10_000, 3600, pacing=pacing)
    followers = list(range(1000, 1040))
    try:
        await follow_all(tl, followers)
        sent: dict[bool, list[int]] = {}  # reading or not -> commands per round sent
        for t, reading in ((1, False), (2, True)):
            if reading:
                await api.mark_reading()
                await worker.active()  # as the worker asks before a round
            w = tl.writes()
            assert isinstance(w, RedisTimelineWrites)
            w.post(tweet(t))
            rounds = sent[reading] = []
            send = w._send_round

            async def counted(round_: Any, send: Any = send, rounds: list[int] = rounds) -> Any:
                rounds.append(sum(len(pipe.command_stack) for pipe in round_.values()))
                return await send(round_)

            w._send_round = counted  # type: ignore[method-assign]
            assert await w.flush() == len(followers)
        # 40 deliveries: calls of at most 8 while reading, one per round; of at most 32 otherwise
        assert len(sent[True]) >= 6 > len(sent[False])
        for f in followers:
            assert await entries(client, tl, f) == [2, 1]
    finally:
        async for key in client.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
            await client.delete(key)
        await client.delete(api.key, api.reading_key)
        await client.aclose()


async def test_a_batchs_delivery_rounds_in_flight_together_give_the_same_timelines(settings: Settings) -> None:
    """Three tweets to 40 followers in calls of 4 deliveries, rounds of 8, three rounds in flight at once (on
    separate connections): every follower gets all three, newest first, as one round at a time gives them."""
    client = aioredis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_prefix}par{uuid.uuid4().hex[:6]}:"
    tl = RedisTimelines(client, prefix, 10, 10_000, 3600, pacing=Pacing(chunk=4, round=8, yield_s=0, parallel=3))
    followers = list(range(2000, 2040))
    try:
        await follow_all(tl, followers)
        w = tl.writes()
        assert isinstance(w, RedisTimelineWrites)
        for t in (11, 12, 13):
            w.post(tweet(t))
        in_flight, peak = 0, 0
        send = w._send_round

        async def counted(round_: Any) -> Any:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await send(round_)
            finally:
                in_flight -= 1

        w._send_round = counted  # type: ignore[method-assign]
        assert await w.flush() == 3 * len(followers)
        assert peak == 3
        for f in followers:
            assert await entries(client, tl, f) == [13, 12, 11]
    finally:
        async for key in client.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
            await client.delete(key)
        await client.aclose()


async def test_late_entries_wait_in_the_inbox_and_are_folded_in_order(settings: Settings) -> None:
    import random

    client = aioredis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_prefix}fan{uuid.uuid4().hex[:6]}:"
    tl = RedisTimelines(client, prefix, 400, 10_000, 3600, pacing=Pacing(chunk=50, round=100, yield_s=0))
    try:
        await follow_all(tl, [800])
        late = list(range(20_001, 20_201))
        random.Random(3).shuffle(late)
        for t in [20_500, *late]:  # the newest first: every later one is out of order
            w = tl.writes()
            w.post(tweet(t))
            await w.flush()
        assert await entries(client, tl, 800) == sorted([20_500, *late], reverse=True)
        keys = RedisKeys(prefix)
        assert 0 < await client.zcard(keys.inbox(800)) < 128  # folded once at 128, the rest waiting
        page = await tl.home_page(800, None, 5)
        assert page is not None and [e[0] for e in page[0].entries] == [20_500, 20_200, 20_199, 20_198, 20_197]
        for gone in (20_150, 20_199):  # removed from the list or the inbox, wherever each is
            w = tl.writes()
            w.delete(gone, AUTHOR, None)
            await w.flush()
        assert await entries(client, tl, 800) == sorted({20_500, *late} - {20_150, 20_199}, reverse=True)
        w = tl.writes()
        w.unfollow(800, AUTHOR)  # folds the inbox, then purges
        await w.flush()
        assert await entries(client, tl, 800) == [] and not await client.exists(keys.inbox(800))
    finally:
        async for key in client.scan_iter(match=RedisKeys(prefix).everything(), count=1000):
            await client.delete(key)
        await client.aclose()


async def test_scripts_a_redis_lost_are_loaded_again_when_the_batch_is_retried(store: Any) -> None:
    """The write rounds send EVALSHA alone (the scripts are loaded once per node): a Redis that lost them answers
    NOSCRIPT, a transient error, and the retried batch loads them first."""
    from infra.faults import is_transient

    tl, client = store
    await follow_all(tl, [700])
    await client.script_flush()
    w = tl.writes()
    w.post(tweet(7001))
    with pytest.raises(Exception) as failed:
        await w.flush()
    assert is_transient(failed.value)
    w = tl.writes()
    w.post(tweet(7001))
    assert await w.flush() == 1
    assert await entries(client, tl, 700) == [7001]
