"""The benchmark's phases, in the order they run, each measuring chirp and the baseline that goes with
it on the same data: fan-out (naive per-follower writes, Stream-Framework), post -> visible delays, API
reads (the seed's PostgreSQL join) and posts, the bulk timeline rebuild, and sizes."""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from bench.harness import Api, Worker, produce, wrk
from bench.workload import Workload
from infra.settings import Settings
from projections.stores.keys import RedisKeys
from projections.timeline import encode_entry
from schemas.ids import IdGenerator

if TYPE_CHECKING:
    from projections.versions import Version

READ_CONNECTIONS = (1, 16, 64)
INGEST_CONNECTIONS = (16, 64)
POST_CONNECTIONS = 64
INGEST_RATE = 500  # tweets/s produced while reads are measured
DELAY_SAMPLES_KEPT = 2_000  # per phase, for the charts
REPLAY_CHECKED = 50


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0, "n": len(values)}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "n": len(values)}


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
            celebrity_threshold=w.profile.celebrity_threshold,
        )
        self.r = redis.Redis.from_url(self.settings.redis_url)
        self.keys = RedisKeys(self.settings.redis_prefix)  # the live version, v1: the base prefix
        self.worker = Worker(self.settings, logdir)
        self.celebrities = w.celebrities()
        self.out: dict[str, Any] = {
            "profile": w.profile.name,
            "seed": w.seed,
            "users": len(w.users),
            "follows": len(w.follows),
            "tweets": len(w.tweets),
            "celebrities": len(self.celebrities),
            "celebrity_threshold": w.profile.celebrity_threshold,
            "api_workers": self.settings.api_workers,
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
            self.stream_framework()
            self.delays()
            self.api_figures()
            self.sql_reads()
            self.replay()
            self.sizes()
        finally:
            self.worker.stop()
            self.cleanup()
        return self.out

    # Setup and fan-out ----------------------------------------------------------------------------

    def setup(self) -> None:
        produce(self.settings, self.w.setup_events(), "users and follows")
        self.worker.start()
        self.worker.wait_idle(desc="projecting the graph")
        asyncio.run(self._activate())

    async def _activate(self) -> None:
        """Every user has read recently: their timelines are materialized (fan-out writes to them)."""
        import redis.asyncio as aioredis

        from projections.factory import timelines_of
        from projections.versions import VersionRegistry

        client = aioredis.Redis.from_url(self.settings.redis_url)
        live = await VersionRegistry(client, self.settings.redis_prefix).live()
        tl = timelines_of(self.settings, client, live)
        for i in range(0, len(self.w.users), 100):
            await tl.rebuild_many(self.w.users[i : i + 100])
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

    def _fanned_out(self) -> list[Any]:
        """The bulk tweets chirp pushes (celebrities' are merged at read time, by every design compared)."""
        return [t for t in self.bulk if t.author_id not in self.celebrities]

    def naive_fanout(self) -> None:
        """Baseline: the Twit seed's loop, one unpipelined ZADD per follower, on the same tweets and graph."""
        followers = self.w.followers()
        prefix = f"{self.settings.redis_prefix}naive:"
        done, t0 = 0, time.monotonic()
        for t in self._fanned_out():
            for f in followers[t.author_id]:
                self.r.zadd(f"{prefix}{f}", {encode_entry(t.tweet_id, t.author_id): 0})
                done += 1
            if time.monotonic() - t0 > self.seconds:
                break
        seconds = time.monotonic() - t0
        self.out["naive_fanout"] = {"deliveries": done, "seconds": seconds, "deliveries_per_s": done / seconds}

    def stream_framework(self) -> None:
        """The Python peer: Stream-Framework 1.4.0's batched fan-out, in its own venv, same graph and tweets."""
        from bench.baselines import stream_framework

        tweets = [(t.tweet_id, t.author_id, t.meta.occurred_at.timestamp()) for t in self._fanned_out()]
        self.out["stream_framework"] = stream_framework.run(
            self.settings.redis_url,
            self.settings.state_dir,
            f"{self.settings.redis_prefix}sf:",
            self.w.followers(),
            tweets,
            float(self.seconds),
            skip_authors=self.celebrities,
        )

    # Post -> visible --------------------------------------------------------------------------------

    def _delays(self) -> list[float]:
        return [float(x) for x in self.r.lrange(self.keys.delays(), 0, -1)]

    def delays(self) -> None:
        """Post -> visible (event time to the end of its fan-out write), at a fixed load and at saturation."""
        rate = max(20.0, min(500.0, self.out["fanout"]["events_per_s"] * 0.2))
        key = self.keys.delays()
        out: dict[str, Any] = {}
        for name, tweets, pace in (("fixed_load", self.paced, rate), ("saturation", self.burst, None)):
            self.r.delete(key)
            label = f"paced tweets ({rate:.0f}/s)" if pace else "tweets at full speed"
            produce(self.settings, tweets, label, rate=pace, restamp=True)
            self.worker.wait_idle(desc="draining")
            values = self._delays()
            out[name] = {**percentiles(values), "samples": _sample(values, DELAY_SAMPLES_KEPT)}
        out["fixed_load"]["offered_per_s"] = rate
        self.out["delay_ms"] = out

    # The API --------------------------------------------------------------------------------------

    def api_figures(self) -> None:
        self.readers = self._accounts(min(1000, len(self.w.users)))
        api = Api(self.settings, self.logdir)
        api.start()
        try:
            reads: dict[str, Any] = {"idle": [], "ingest": []}
            for c in READ_CONNECTIONS:
                reads["idle"].append(wrk(api.url, "timeline.lua", self.readers, c, self.seconds))
            stop = threading.Event()
            feeder = threading.Thread(target=self._ingest, args=(stop,), daemon=True)
            feeder.start()
            try:
                for c in INGEST_CONNECTIONS:
                    reads["ingest"].append(wrk(api.url, "timeline.lua", self.readers, c, self.seconds))
            finally:
                stop.set()
                feeder.join()
            self.out["reads"] = reads
            self.out["posts"] = wrk(api.url, "post.lua", self.readers, POST_CONNECTIONS, self.seconds)
            self.worker.wait_idle(desc="draining")
        finally:
            api.stop()

    def _ingest(self, stop: threading.Event) -> None:
        """Background ingest while reads are measured: a steady stream of new tweets."""
        ids = IdGenerator(node_id=1023)
        while not stop.is_set():
            chunk = [replace(t, tweet_id=ids.next_id()) for t in self.burst[: INGEST_RATE // 2]]
            produce(self.settings, chunk, "ingest", rate=INGEST_RATE, restamp=True, quiet=True)

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

    def sql_reads(self) -> None:
        """Baseline: the seed's PostgreSQL join, read at the same concurrency by the same users."""
        from bench.baselines.postgres import PostgresBaseline

        pg = PostgresBaseline(self.settings.state_dir, self.logdir, workers=self.settings.api_workers)
        try:
            pg.start()
            users = list(zip(self.w.users, self.w.handles, strict=True))
            tweets = [(t.tweet_id, t.author_id, t.content, t.meta.occurred_at.timestamp()) for t in self.w.tweets]
            self.out["sql_load"] = pg.load(users, self.w.follows, tweets)
            url = pg.serve()
            self.out["sql_reads"] = [wrk(url, "sql.lua", self.readers, c, self.seconds) for c in READ_CONNECTIONS]
        finally:
            pg.stop()

    # Replay and sizes -------------------------------------------------------------------------------

    def replay(self) -> None:
        """A full timeline rebuild from offset 0 into a new Redis prefix, then the same pages compared."""
        from projections.versions import Version
        from streams.replay import rebuild

        version = Version("r", "building", "")  # a scratch version: its own prefix, the live keyspace
        group = f"{self.settings.topic_prefix}bench-replay"
        result = asyncio.run(rebuild(self.settings, version, "timelines", group, warm=lambda: self.w.users))
        self.out["replay"] = {
            "events": result.events,
            "skipped": result.skipped,
            "seconds": result.seconds,
            "events_per_s": result.events_per_s,
            "timelines": result.timelines,
            "warm_seconds": result.warm_seconds,
            "timelines_per_s": result.timelines / result.warm_seconds if result.warm_seconds else 0.0,
            **asyncio.run(self._compare(version)),
        }

    async def _compare(self, rebuilt: Version) -> dict[str, int]:
        """Sampled home timelines as the API serves them, live against rebuilt: the same tweets, in order."""
        from projections.factory import StoreFactory
        from projections.versions import VersionRegistry

        factory = await StoreFactory.open(self.settings)
        live_version = await VersionRegistry(factory.redis, self.settings.redis_prefix).live()
        live, new = [(await factory.version(v)).queries for v in (live_version, rebuilt)]
        mismatches = 0
        sample = random.Random(self.w.seed).sample(self.w.users, min(REPLAY_CHECKED, len(self.w.users)))
        for u in sample:
            a, b = await live.home(u, None, 20), await new.home(u, None, 20)
            if [t.tweet_id for t in a.tweets] != [t.tweet_id for t in b.tweets]:
                mismatches += 1
        await factory.close()
        return {"checked": len(sample), "mismatches": mismatches}

    def sizes(self) -> None:
        pattern = self.keys.timelines()
        keys = [k for _, k in zip(range(500), self.r.scan_iter(pattern, count=1000), strict=False)]
        used = sum(self.r.memory_usage(k) or 0 for k in keys)
        entries = sum(self.r.zcard(k) for k in keys)
        data = self.settings.state_dir / "cassandra" / "data" / "data"
        cass = sum(
            p.stat().st_size for d in data.glob(self.settings.keyspace + "*") for p in d.rglob("*") if p.is_file()
        )
        self.out["sizes"] = {
            "redis_bytes_per_entry": used / max(entries, 1),
            "timelines_sampled": len(keys),
            "redis_used_memory": self.r.info("memory")["used_memory"],
            "cassandra_keyspace_bytes": cass,
        }

    def cleanup(self) -> None:
        """The run's keys, topics and keyspace: a benchmark leaves nothing behind."""
        from infra.migrate import drop

        for k in self.r.scan_iter(self.keys.everything(), count=5000):
            self.r.unlink(k)
        drop(self.settings)


def _sample(values: list[float], n: int) -> list[float]:
    return values if len(values) <= n else random.Random(0).sample(values, n)
