"""What one delivery costs Redis: `python -m bench.delivery [--followers N] [--tweets T] [--cap C]`.

N followers of one author, each with a materialized home timeline already holding C older entries (filled
through the store's own fan-out, from a second author), then T tweets by the author fanned out through the
store's fan-out script, in batches of 50 as the worker sends them (`--disorder W`: shuffled within windows
of W, as when several partitions' backlogs are fanned out at once). Prints deliveries/s, Redis CPU µs per
delivery (`INFO cpu` delta) and the µs per call of the commands the deliveries ran (`INFO commandstats`
deltas, never reset: others measuring the same Redis are not disturbed, but their load counts in). It uses
only the timeline store's public methods, so the same file run against an older checkout
(`PYTHONPATH=<checkout> python bench/delivery.py`) measures that checkout's layout: that is how the
before/after figures in docs/benchmarks.md were taken."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from infra import redisnodes
from infra.settings import Settings
from projections.model import TweetView
from projections.stores.redis import RedisTimelines

AUTHOR, FILLER = 1, 2
BATCH = 50


def redis_cpu_s(r: redis.Redis) -> float:
    """Redis CPU seconds so far (user + sys)."""
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def drop_prefix(r: redis.Redis, prefix: str) -> None:
    """Removes every key a micro-benchmark wrote under its own prefix."""
    for key in r.scan_iter(f"{prefix}*", count=1000):
        r.unlink(key)


@asynccontextmanager
async def scratch_timelines(settings: Settings, name: str, *store: Any, **options: Any
                            ) -> AsyncIterator[tuple[RedisTimelines, list[redis.Redis]]]:  # fmt: skip
    """A timeline store (`RedisTimelines(nodes, prefix, *store, **options)`) under a fresh prefix on the configured
    Redis or Redis Cluster, with every primary (for CPU readings); the prefix's keys are dropped after."""
    prefix = f"{name}{uuid.uuid4().hex[:6]}:"
    nodes, r = await redisnodes.open_nodes(settings), redisnodes.connect_sync(settings)
    primaries = redisnodes.primaries_sync(r)
    try:
        yield RedisTimelines(nodes, prefix, *store, **options), primaries
    finally:
        for node in primaries:
            drop_prefix(node, prefix)
        await nodes.aclose()


async def per_call(
    primaries: list[redis.Redis], calls: int, call: Callable[[], Awaitable[Any]]
) -> tuple[float, float, float]:
    """Runs `call` `calls` times: wall µs, this process's CPU µs and Redis CPU µs (every primary's) per call."""
    c0, p0, t0 = sum(map(redis_cpu_s, primaries)), time.process_time(), time.perf_counter()
    for _ in range(calls):
        await call()
    wall, mine = time.perf_counter() - t0, time.process_time() - p0
    cpu = sum(map(redis_cpu_s, primaries)) - c0
    return wall * 1e6 / calls, mine * 1e6 / calls, cpu * 1e6 / calls


def _calls(r: redis.Redis) -> dict[str, tuple[int, int]]:
    """command -> (calls, usec) so far, from `INFO commandstats`."""
    stats = r.info("commandstats")
    return {k.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"])) for k, v in stats.items()}


async def _post(tl: RedisTimelines, author: int, ids: list[int]) -> int:
    delivered = 0
    for start in range(0, len(ids), BATCH):
        w = tl.writes()
        for t in ids[start : start + BATCH]:
            w.post(TweetView(t, author, "x", datetime.now(UTC)))
        delivered += await w.flush()
    return delivered


def _disordered(ids: list[int], window: int) -> list[int]:
    """The ids shuffled within consecutive windows: tweets of several partitions arriving interleaved."""
    rng = random.Random(7)
    out: list[int] = []
    for i in range(0, len(ids), window):
        part = ids[i : i + window]
        rng.shuffle(part)
        out += part
    return out


async def measure(url: str, followers: int, tweets: int, cap: int, disorder: int) -> dict[str, float]:
    prefix = f"delivery{uuid.uuid4().hex[:6]}:"
    client = aioredis.Redis.from_url(url)
    r = redis.Redis.from_url(url)
    tl = RedisTimelines(client, prefix, cap, 10**9, 3600)
    try:
        fans = list(range(1000, 1000 + followers))
        await tl.rebuild_many(fans)  # materialized, empty
        w = tl.writes()
        for f in fans:
            w.follow(f, AUTHOR)
            w.follow(f, FILLER)
        await w.flush()
        await _post(tl, FILLER, list(range(10**12, 10**12 + cap)))  # older entries: full timelines
        calls0, c0, t0 = _calls(r), redis_cpu_s(r), time.perf_counter()
        ids = list(range(10**15, 10**15 + tweets))
        delivered = await _post(tl, AUTHOR, _disordered(ids, disorder) if disorder > 1 else ids)
        seconds, cpu = time.perf_counter() - t0, redis_cpu_s(r) - c0
        calls1 = _calls(r)
        out = {"deliveries": delivered, "deliveries_per_s": delivered / seconds, "cpu_us": cpu * 1e6 / delivered}
        for name in ("lpush", "lindex", "zadd", "evalsha"):
            n, us = (a - b for a, b in zip(calls1.get(name, (0, 0)), calls0.get(name, (0, 0)), strict=True))
            if n > 0:
                out[f"{name}_us"] = us / n
        return out
    finally:
        drop_prefix(r, prefix)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__)
    parser.add_argument("--followers", type=int, default=500)
    parser.add_argument("--tweets", type=int, default=200)
    parser.add_argument("--cap", type=int, default=800)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--disorder", type=int, default=1, help="shuffle the tweets within windows of this many (out-of-order arrival)"
    )
    args = parser.parse_args()
    url = Settings().redis_url
    runs = [asyncio.run(measure(url, args.followers, args.tweets, args.cap, args.disorder)) for _ in range(args.trials)]
    for key in runs[0]:
        values = sorted(r[key] for r in runs)
        print(f"{key:>18}: median {values[len(values) // 2]:,.2f} (min {values[0]:,.2f}, max {values[-1]:,.2f})")


if __name__ == "__main__":
    main()
