"""What materializing one home timeline costs Redis: `python -m bench.rebuild [--followees M] [--tweets T]
[--entries E] [--builds B]`.

A reader follows M accounts, each with T tweets (posted round-robin, so every list interleaves with the others);
then the reader's timeline is dropped and built again B times through the store (`rebuild.lua`: the followees'
lists merged inside Redis, the newest E entries kept: CHIRP_REBUILD_ENTRIES). Prints wall µs, this process's
CPU µs and Redis CPU µs (every primary's, summed) per build, and the entries built. `--entries 800` keeps
what every build kept before CHIRP_REBUILD_ENTRIES (the cap)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bench.delivery import per_call, scratch_timelines
from infra.settings import Settings
from projections.model import TweetView

READER = 1
CAP = 800


async def measure(settings: Settings, followees: int, tweets: int, entries: int, builds: int) -> tuple[float, ...]:
    authors = [10_000 + i for i in range(followees)]
    async with scratch_timelines(settings, "rebuild", CAP, 10**9, 3600, rebuild_entries=entries) as (tl, primaries):
        w = tl.writes()
        for a in authors:
            w.follow(READER, a)
        await w.flush()
        t = 10**15
        for _ in range(tweets):
            w = tl.writes()
            for a in authors:
                t += 1
                w.post(TweetView(t, a, "hello world", datetime.now(UTC)))
            await w.flush()

        async def build() -> None:
            await tl.forget_timeline(READER)
            await tl.rebuild(READER)

        wall, mine, cpu = await per_call(primaries, builds, build)
        built = len(await tl.timeline_entries(READER))
        return wall, mine, cpu, built


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild", description=__doc__)
    parser.add_argument("--followees", type=int, default=30)
    parser.add_argument("--tweets", type=int, default=130, help="tweets per followee")
    parser.add_argument("--entries", type=int, default=Settings().rebuild_entries, help="entries a build keeps")
    parser.add_argument("--builds", type=int, default=300)
    args = parser.parse_args()
    wall, mine, cpu, built = asyncio.run(measure(Settings(), args.followees, args.tweets, args.entries, args.builds))
    print(f"{wall:,.0f} us per build (wall), {mine:,.0f} us of this process's CPU, {cpu:,.0f} us of Redis CPU; "
          f"{built:.0f} entries built")  # fmt: skip


if __name__ == "__main__":
    main()
