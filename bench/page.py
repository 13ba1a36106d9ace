"""What one home page costs Redis: `python -m bench.page [--celebrities N] [--followees M] [--pages P]`.

A reader follows N celebrities (merged at read time) and M regular accounts, each with 60 tweets; then P
first pages of 20 are read through the store (`home.lua`: the sources, their merge, hydration, in one
call). Prints wall µs, this process's CPU µs (what an API process spends) and Redis CPU µs (every primary's,
summed) per page. With the cluster topology's settings (`env $(grep -v '^#' infra/cluster.env | xargs) python -m
bench.page`) the same pages are read from a Redis Cluster, where a page's tweets and authors are mostly on other
primaries. (The before figure in docs/benchmarks.md, 1,010 µs, is this module run on the commit before home.lua's
k-way merge.) `--views N`: the store keeps up to N views (the API's view cache, CHIRP_VIEW_CACHE), tracked
before the pages are read, so the measured pages are served from it after the warm-up."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bench.delivery import per_call, scratch_timelines
from infra.settings import Settings
from projections.model import TweetView
from projections.stores.redis import RedisTimelines

READER = 1
FANS = (2, 3, 4)  # with the reader: 4 followers, over the threshold of 3


async def measure(
    settings: Settings, celebrities: int, followees: int, pages: int, views: int = 0
) -> tuple[float, float, float]:
    celebs, regular = [100 + i for i in range(celebrities)], [10_000 + i for i in range(followees)]
    async with scratch_timelines(settings, "page", 800, 3, 3600, view_cache=views) as (tl, primaries):
        await tl.rebuild_many([READER])
        w = tl.writes()
        for c in celebs:
            for f in (READER, *FANS):
                w.follow(f, c)
        for g in regular:
            w.follow(READER, g)
        for u in (*celebs, *regular):
            w.save_user(u, f"user{u}", f"User {u}")
        await w.flush()
        t = 10**15
        for _ in range(60):
            w = tl.writes()
            for author in celebs + regular:
                t += 1
                w.post(TweetView(t, author, "hello world", datetime.now(UTC)))
            await w.flush()
        tl.start_views()
        try:
            await _tracking(tl, views)
            for _ in range(20):  # connections to every node made (and the views kept)
                await tl.home_page(READER, None, 20)
            return await per_call(primaries, pages, lambda: tl.home_page(READER, None, 20))
        finally:
            await tl.stop_views()


async def _tracking(tl: RedisTimelines, views: int) -> None:
    """Waits (at most 10 s) until the store's view cache is live, if it has one."""
    for _ in range(1000):
        if not views or (tl.views is not None and tl.views.live):
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("the view cache did not start tracking")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__)
    parser.add_argument("--celebrities", type=int, default=5)
    parser.add_argument("--followees", type=int, default=10)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--views", type=int, default=0, help="views the store keeps (0: none, every page hydrated)")
    args = parser.parse_args()
    wall, mine, cpu = asyncio.run(measure(Settings(), args.celebrities, args.followees, args.pages, args.views))
    print(f"{wall:,.0f} us per page (wall), {mine:,.0f} us of this process's CPU, {cpu:,.0f} us of Redis CPU")


if __name__ == "__main__":
    main()
