"""What one home page costs Redis: `python -m bench.page [--celebrities N] [--followees M] [--pages P]`.

A reader follows N celebrities (merged at read time) and M regular accounts, each with 60 tweets; then P
first pages of 20 are read through the store (`home.lua`: the sources, their merge, hydration, in one
call). Prints wall µs and Redis CPU µs per page. (The before figure in docs/benchmarks.md, 1,010 µs, is
this module run on the commit before home.lua's k-way merge.)"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

import redis
import redis.asyncio as aioredis

from bench.delivery import drop_prefix, redis_cpu_s
from infra.settings import Settings
from projections.model import TweetView
from projections.stores.redis import RedisTimelines

READER = 1
FANS = (2, 3, 4)  # with the reader: 4 followers, over the threshold of 3


async def measure(url: str, celebrities: int, followees: int, pages: int) -> tuple[float, float]:
    prefix = f"page{uuid.uuid4().hex[:6]}:"
    client, r = aioredis.Redis.from_url(url), redis.Redis.from_url(url)
    tl = RedisTimelines(client, prefix, 800, 3, 3600)
    celebs, regular = [100 + i for i in range(celebrities)], [10_000 + i for i in range(followees)]
    try:
        await tl.rebuild_many([READER])
        w = tl.writes()
        for c in celebs:
            for f in (READER, *FANS):
                w.follow(f, c)
        for g in regular:
            w.follow(READER, g)
        await w.flush()
        t = 10**15
        for _ in range(60):
            w = tl.writes()
            for author in celebs + regular:
                t += 1
                w.post(TweetView(t, author, "hello world", datetime.now(UTC)))
            await w.flush()
        c0, t0 = redis_cpu_s(r), time.perf_counter()
        for _ in range(pages):
            await tl.home_page(READER, None, 20)
        wall = time.perf_counter() - t0
        cpu = redis_cpu_s(r) - c0
        return wall * 1e6 / pages, cpu * 1e6 / pages
    finally:
        drop_prefix(r, prefix)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__)
    parser.add_argument("--celebrities", type=int, default=5)
    parser.add_argument("--followees", type=int, default=10)
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    wall, cpu = asyncio.run(measure(Settings().redis_url, args.celebrities, args.followees, args.pages))
    print(f"{wall:,.0f} us per page (wall), {cpu:,.0f} us of Redis CPU per page")


if __name__ == "__main__":
    main()
