"""`make bench`: chirp's main job measured on this machine, each figure beside a baseline measured in
the same run on the same data. Results go to bench/results/<timestamp>.json and .md.

    python -m bench [--tiny | --large] [--seed N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench.harness import Api, Worker, ensure_wrk, produce, wrk
from bench.report import TARGETS, write_report
from bench.workload import PROFILES, Workload, generate
from infra.settings import Settings
from projections.timeline import encode_entry
from schemas.ids import IdGenerator

RESULTS = Path(__file__).parent / "results"


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0, "n": len(values)}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "n": len(values)}


def delays(r: redis.Redis, settings: Settings) -> list[float]:
    return [float(x) for x in r.lrange(f"{settings.redis_prefix}stats:delays", 0, -1)]


class Bench:
    def __init__(self, w: Workload, seconds: int, logdir: Path) -> None:
        run = datetime.now(UTC).strftime("%H%M%S")
        self.w = w
        self.seconds = seconds
        self.logdir = logdir
        self.settings = Settings(
            topic_prefix=f"bench{run}.",
            keyspace=f"bench_{run}",
            redis_prefix=f"bench{run}:",
            api_port=8099,
            log_level="warning",
            worker_id="bench",
        )
        self.r = redis.Redis.from_url(self.settings.redis_url)
        self.worker = Worker(self.settings, logdir)
        self.out: dict[str, Any] = {
            "profile": w.profile.name,
            "seed": w.seed,
            "users": len(w.users),
            "follows": len(w.follows),
            "tweets": len(w.tweets),
        }
        n = len(w.tweets)
        self.bulk, self.paced, self.burst = (
            w.tweets[: n * 7 // 10],
            w.tweets[n * 7 // 10 : n * 8 // 10],
            w.tweets[n * 8 // 10 :],
        )

    def run(self) -> dict[str, Any]:
        from infra.migrate import migrate

        migrate(self.settings, report=lambda _: None)
        try:
            self.setup()
            self.fanout()
            self.naive_fanout()
            self.delays()
            self.api_figures()
            self.replay()
            self.sizes()
        finally:
            self.worker.stop()
            self.cleanup()
        return self.out

    def setup(self) -> None:
        produce(self.settings, self.w.setup_events(), "users and follows")
        self.worker.start()
        self.worker.wait_idle(desc="projecting the graph")
        asyncio.run(self._activate())

    async def _activate(self) -> None:
        """Every user has read recently: their timelines are materialized (fan-out writes to them)."""
        import redis.asyncio as aioredis

        from projections.stores.redis import RedisTimelines

        s = self.settings
        client = aioredis.Redis.from_url(s.redis_url)
        tl = RedisTimelines(client, s.redis_prefix, s.timeline_cap, s.celebrity_threshold, s.active_window_s)
        sem = asyncio.Semaphore(64)

        async def one(u: int) -> None:
            async with sem:
                await tl.rebuild(u)

        await asyncio.gather(*(one(u) for u in self.w.users))
        await client.aclose()

    def fanout(self) -> None:
        """Sustained deliveries/s: tweets bulk-loaded into Kafka while the worker is stopped, then drained."""
        self.worker.stop()
        produce(self.settings, [*self.bulk, *self.w.likes], "tweets and likes (bulk)")
        before = self.worker.stats()
        self.worker.start()
        deadline = time.monotonic() + 120
        while self.worker.stats().get("events", 0) == before.get("events", 0):
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not start consuming")
            time.sleep(0.005)
        t0 = time.monotonic()
        t1 = self.worker.wait_idle(desc="fan-out (bulk)")
        after = self.worker.stats()
        deliveries = after["deliveries"] - before.get("deliveries", 0)
        events = after["events"] - before.get("events", 0)
        self.out["fanout"] = {
            "deliveries": deliveries,
            "events": events,
            "seconds": t1 - t0,
            "deliveries_per_s": deliveries / (t1 - t0),
            "events_per_s": events / (t1 - t0),
        }

    def naive_fanout(self) -> None:
        """Baseline: the Twit seed's loop, one unpipelined ZADD per follower, on the same tweets and graph."""
        followers = self.w.followers()
        prefix = f"{self.settings.redis_prefix}naive:"
        done, t0 = 0, time.monotonic()
        for t in self.bulk:
            for f in followers[t.author_id]:
                self.r.zadd(f"{prefix}{f}", {encode_entry(t.tweet_id, t.author_id): 0})
                done += 1
            if time.monotonic() - t0 > self.seconds:
                break
        seconds = time.monotonic() - t0
        self.out["naive_fanout"] = {"deliveries": done, "seconds": seconds, "deliveries_per_s": done / seconds}

    def delays(self) -> None:
        """Post -> visible (event time to the end of its fan-out write), at a fixed load and at saturation."""
        rate = max(20.0, min(500.0, self.out["fanout"]["events_per_s"] * 0.2))
        key = f"{self.settings.redis_prefix}stats:delays"
        self.r.delete(key)
        produce(self.settings, self.paced, f"paced tweets ({rate:.0f}/s)", rate=rate, restamp=True)
        self.worker.wait_idle(desc="draining")
        fixed = percentiles(delays(self.r, self.settings))
        self.r.delete(key)
        produce(self.settings, self.burst, "tweets at full speed", restamp=True)
        self.worker.wait_idle(desc="draining")
        saturated = percentiles(delays(self.r, self.settings))
        self.out["delay_ms"] = {"fixed_load": {"offered_per_s": rate, **fixed}, "saturation": saturated}

    def api_figures(self) -> None:
        readers = self._accounts(min(1000, len(self.w.users)))
        api = Api(self.settings, self.logdir)
        api.start()
        try:
            reads: dict[str, Any] = {"idle": [], "ingest": []}
            for c in (1, 16, 64):
                reads["idle"].append(wrk(api.url, "timeline.lua", readers, c, self.seconds))
            stop = threading.Event()
            feeder = threading.Thread(target=self._ingest, args=(stop,), daemon=True)
            feeder.start()
            try:
                for c in (16, 64):
                    reads["ingest"].append(wrk(api.url, "timeline.lua", readers, c, self.seconds))
            finally:
                stop.set()
                feeder.join()
            self.out["reads"] = reads
            self.out["posts"] = wrk(api.url, "post.lua", readers, 64, self.seconds)
            self.worker.wait_idle(desc="draining")
        finally:
            api.stop()

    def _ingest(self, stop: threading.Event) -> None:
        """Background ingest while reads are measured: a steady stream of new tweets."""
        ids = IdGenerator(node_id=1023)
        while not stop.is_set():
            chunk = [replace(t, tweet_id=ids.next_id()) for t in self.burst[:250]]
            produce(self.settings, chunk, "ingest", rate=500, restamp=True, quiet=True)

    def _accounts(self, n: int) -> list[str]:
        """Bearer tokens for n users, saved as the API saves them at registration."""
        from infra import cassandra
        from infra.accounts import CassandraAccounts, new_token

        cluster, session = cassandra.connect(self.settings, self.settings.keyspace)
        accounts = CassandraAccounts(session)
        lines = []

        async def save() -> None:
            for u, h in list(zip(self.w.users, self.w.handles, strict=True))[:n]:
                token = new_token()
                await accounts.save_token(token, u)
                await accounts.record_account(u, h)
                lines.append(f"{u} {token}")

        asyncio.run(save())
        cluster.shutdown()
        return lines

    def replay(self) -> None:
        """A full rebuild: a new consumer group and Redis prefix read every topic from offset 0."""
        s = self.settings.model_copy(update={"worker_id": "replay", "redis_prefix": f"{self.settings.redis_prefix}r:"})
        w = Worker(s, self.logdir)
        t0 = time.monotonic()
        w.start()
        try:
            deadline = time.monotonic() + 120
            while not w.stats().get("events"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the replay worker did not start")
                time.sleep(0.005)
            started = time.monotonic()
            t1 = w.wait_idle(desc="replay")
            events = w.stats()["events"]
        finally:
            w.stop()
        self.out["replay"] = {
            "events": events,
            "seconds": t1 - started,
            "events_per_s": events / (t1 - started),
            "startup_s": started - t0,
        }

    def sizes(self) -> None:
        keys = [
            k
            for _, k in zip(range(500), self.r.scan_iter(f"{self.settings.redis_prefix}tl:*", count=1000), strict=False)
        ]
        used = sum(self.r.memory_usage(k) or 0 for k in keys)
        entries = sum(self.r.zcard(k) for k in keys)
        info = self.r.info("memory")
        data = self.settings.state_dir / "cassandra" / "data" / "data"
        cass = sum(
            p.stat().st_size for d in data.glob(f"{self.settings.keyspace}") for p in d.rglob("*") if p.is_file()
        )
        self.out["sizes"] = {
            "redis_bytes_per_entry": used / max(entries, 1),
            "timelines_sampled": len(keys),
            "redis_used_memory": info["used_memory"],
            "cassandra_keyspace_bytes": cass,
        }

    def cleanup(self) -> None:
        for k in self.r.scan_iter(f"{self.settings.redis_prefix}*", count=5000):
            self.r.unlink(k)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_true", help="a few seconds: for the test suite")
    size.add_argument("--large", action="store_true", help="100,000 users and 1,000,000 tweets")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument("--seconds", type=int, default=None, help="duration of each timed load run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args()
    profile = PROFILES["tiny" if args.tiny else "large" if args.large else "default"]
    seconds = args.seconds or (2 if args.tiny else 10)
    ensure_wrk()
    print(f"generating the {profile.name} workload (seed {args.seed})", flush=True)
    w = generate(profile, args.seed)
    with tempfile.TemporaryDirectory(prefix="chirp-bench-") as logdir:
        out = Bench(w, seconds, Path(logdir)).run()
    out["targets"] = TARGETS
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}.json").write_text(json.dumps(out, indent=2))
    print(write_report(out, args.out / f"{stamp}.md"))


if __name__ == "__main__":
    main()
