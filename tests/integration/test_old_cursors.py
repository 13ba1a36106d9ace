"""An old cursor costs a bounded number of Cassandra reads per page: the durable fan-out on read looks a few
30-day buckets deep per author, and a page that finds too few there ends with a cursor to go on from. Paging
on that way returns every tweet exactly once, newest first, however sparse the authors' tweets are."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import projections.stores.cassandra as cassandra_store
from infra.settings import Settings
from projections.factory import StoreFactory
from projections.model import TweetView
from projections.stores.cassandra import CassandraProjections
from projections.timeline import BUCKET_MS, bucket_of
from schemas.ids import NODE_BITS, SEQ_BITS

pytestmark = pytest.mark.integration

AT = datetime(2026, 1, 1, tzinfo=UTC)


def tweet_id(bucket: int, n: int) -> int:
    """An id made in `bucket` (the n-th of its tweets there), with random sequence bits so that runs differ."""
    return ((bucket * BUCKET_MS + 1000 * n) << (NODE_BITS + SEQ_BITS)) | random.getrandbits(NODE_BITS + SEQ_BITS)


@pytest.fixture(scope="module")
def durable(settings: Settings) -> Iterator[tuple[asyncio.AbstractEventLoop, CassandraProjections]]:
    loop = asyncio.new_event_loop()
    factory = loop.run_until_complete(StoreFactory.open(settings))
    yield loop, loop.run_until_complete(factory.durable(settings.keyspace))
    loop.run_until_complete(factory.close())
    loop.close()


def test_paging_from_an_old_cursor_reads_a_few_buckets_per_page_and_misses_nothing(
    durable: tuple[asyncio.AbstractEventLoop, CassandraProjections], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop, db = durable
    reader, sparse, dense = (random.getrandbits(40) + (1 << 41) for _ in range(3))
    # `sparse` tweets once every 7 buckets over ~5 years, `dense` three times in two buckets; the reader once.
    tweets = {tweet_id(b, 0): sparse for b in range(3, 64, 7)}
    tweets |= {tweet_id(b, n): dense for b in (20, 50) for n in range(3)} | {tweet_id(40, 0): reader}

    async def write() -> None:
        w = db.writes()
        for t, a in tweets.items():
            w.save_tweet(TweetView(t, a, f"tweet {t}", AT))
        for followee in (sparse, dense):
            w.follow(reader, followee, AT)
        await w.flush()

    loop.run_until_complete(write())
    reads = 0
    execute = cassandra_store.execute  # type: ignore[attr-defined]

    async def counted(*args: Any) -> Any:
        nonlocal reads
        reads += 1
        return await execute(*args)

    monkeypatch.setattr(cassandra_store, "execute", counted)
    seen: list[tuple[int, int]] = []
    before: int | None = None
    pages = 0
    while True:
        reads = 0
        entries, floor = loop.run_until_complete(db.home_from_log(reader, before, 2, buckets=2))
        pages += 1
        assert reads <= 1 + 3 * (1 + 2)  # the follow list, then per author its buckets and at most 2 of them
        assert all(before is None or t < before for t, _ in entries)
        seen += entries
        if len(entries) == 2:
            before = entries[-1][0]
        elif floor is None:
            break
        else:
            assert floor < (before or 1 << 63) and bucket_of(floor) < bucket_of(before or 1 << 62)
            before = floor
        assert pages < 100
    assert seen == sorted(tweets.items(), reverse=True)
