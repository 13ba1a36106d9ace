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
import time
import uuid
from datetime import UTC, datetime

from bench.delivery import drop_prefix, redis_cpu_s
from infra import redisnodes
from infra.settings import Settings
from projections.model import TweetView
from projections.stores.redis import RedisTimelines

READER = 1
CAP = 800


async def measure(settings: Settings, followees: int, tweets: int, entries: int, builds: int) -> tuple[float, ...]:
    prefix = f"rebuild{uuid.uuid4().hex[:6]}:"
    nodes, r = await redisnodes.open_nodes(settings), redisnodes.connect_sync(settings)
    primaries = redisnodes.primaries_sync(r)
    tl = RedisTimelines(nodes, prefix, CAP, 10**9, 3600, rebuild_entries=entries)
    authors = [10_000 + i for i in range(followees)]
    try:
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
        c0, p0, t0 = sum(map(redis_cpu_s, primaries)), time.process_time(), time.perf_counter()
        for _ in range(builds):
            await tl.forget_timeline(READER)
            await tl.rebuild(READER)
        wall, mine = time.perf_counter() - t0, time.process_time() - p0
        cpu = sum(map(redis_cpu_s, primaries)) - c0
        built = len(await tl.timeline_entries(READER))
        return wall * 1e6 / builds, mine * 1e6 / builds, cpu * 1e6 / builds, built
    finally:
        for node in primaries:
            drop_prefix(node, prefix)
        await nodes.aclose()


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
