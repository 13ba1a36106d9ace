"""The benchmark's phases, in the order they run, each measuring chirp and the baseline that goes with
it on the same data: fan-out (naive per-follower writes, Stream-Framework), post -> visible delays, API
reads (the seed's PostgreSQL join) idle, at half the measured fan-out capacity and at saturation, posts,
the bulk timeline rebuild, and sizes. Every headline figure is the median of `trials` trials, kept with
each trial; Redis's own counters (`INFO commandstats`, `INFO cpu`) are taken around each phase, and py-spy
samples the worker and the API while fan-out and reads run."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from bench.cpu import ProcessCpu, pid_file
from bench.harness import Api, Ingest, Worker, produce, with_redis, wrk
from bench.profiler import Profile
from bench.stats import RedisCounters, rewrite_aof_if_due, summarize, usec_per_call
from bench.workload import Workload
from infra import heap
from infra.redisnodes import RedisNodes
from infra.settings import Settings
from projections.stores.keys import RedisKeys, data_patterns, own_patterns
from projections.timeline import encode_entry

if TYPE_CHECKING:
    from projections.versions import Version
    from schemas.events import Event

READ_CONNECTIONS = (1, 16, 64)
HOME_FAMILY = "hl"  # projections/stores/keys.py: a home timeline's family
INGEST_CONNECTIONS = (16, 64)  # reads while tweets come in at half the measured fan-out capacity
SATURATION_CONNECTIONS = (16,)
SATURATION_FACTOR = 2.0  # tweets offered at this multiple of the measured capacity: the backlog grows
POST_CONNECTIONS = 64
TWO_APIS = 2  # API processes of the last API phase (reads at 64 connections, posts)
DELAY_SAMPLES_KEPT = 2_000  # per phase, for the charts
REPLAY_CHECKED = 50
FLUSH_PERIOD_MS = 1_000  # memtable_flush_period_in_ms set on the run's tables before their size is taken


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0, "n": len(values)}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "n": len(values)}


class Bench:
    def __init__(
        self, w: Workload, seconds: int, logdir: Path, trials: int = 3, results: Path | None = None, stamp: str = ""
    ) -> None:
        self.w = w
        self.seconds = seconds
        self.logdir = logdir
        self.trials = trials
        self.results = results  # where py-spy's profiles go (None: no profiling)
        self.stamp = stamp
        self.settings = run_settings(w)
        self.r = redis.Redis.from_url(self.settings.redis_url)
        self.counters = RedisCounters(self.r)
        self.api: Api | None = None
        self.cpu = ProcessCpu(self._processes)
        self.keys = RedisKeys(self.settings.redis_prefix)  # the live version, v1: the base prefix
        self.worker = Worker(self.settings, logdir)
        self.celebrities = w.celebrities()
        self.out: dict[str, Any] = {
            **w.summary(),
            "celebrities": len(self.celebrities),
            "api_workers": self.settings.api_workers,
            "trials": trials,
            "seconds": seconds,
            "redis": {},  # phase -> Redis's CPU seconds and per-command calls / usec over it
            "profiles": {},  # name -> py-spy's summary
            "cpu": {},  # phase -> CPU seconds per process (bench/cpu.py)
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
            with self.phase("setup"):
                self.setup()
            self.fanout()
            self.naive_fanout()
            self.stream_framework()
            with self.phase("delays"):
                self.delays()
            self.api_figures()
            self.sql_reads()
            with self.phase("replay"):
                self.replay()
            self.sizes()
        finally:
            self.worker.stop()
            self.cleanup()
        return self.out

    def _processes(self) -> dict[str, int | None]:
        state = self.settings.state_dir
        return {
            **{svc: pid_file(state / svc / "pid") for svc in ("redis", "kafka", "cassandra")},
            "worker": self.worker.pid,
            **self._api_processes(),
            "bench": os.getpid(),  # with its load generators (wrk, the ingest feed)
        }

    def _api_processes(self) -> dict[str, int | None]:
        """The API's processes: "api" for the first (or only) one, then "api-2" and nginx when there are two."""
        if self.api is None:
            return {"api": None}
        return {("api" if name in ("api", "api-1") else name): pid for name, pid in self.api.pids.items()}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Redis's counters around a phase, kept under out["redis"][name]."""
        rewrite_aof_if_due(self.r)
        before, cpu = self.counters.snapshot(), self.cpu.snapshot()
        yield
        self.out["redis"][name] = self.counters.delta(before, self.counters.snapshot())
        self.out["cpu"][name] = self.cpu.delta(cpu, self.cpu.snapshot())

    @contextmanager
    def profiled(self, name: str, pid: int | None) -> Iterator[None]:
        """py-spy on `pid` while the block runs: bench/results/<stamp>-<name>.txt and -top.txt."""
        if self.results is None:
            yield
            return
        with Profile(pid, self.results / f"{self.stamp}-{name}.txt") as p:
            yield
        self.out["profiles"][name] = p.result

    def _trials(self, name: str, measure: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """`measure(i)` for each trial, with Redis's counters around each; the median and spread of them."""
        runs: list[dict[str, Any]] = []
        cpu: dict[str, float] = {}
        for i in range(self.trials):
            rewrite_aof_if_due(self.r)
            before, cpu0 = self.counters.snapshot(), self.cpu.snapshot()
            run = measure(i)
            run.setdefault("redis", self.counters.delta(before, self.counters.snapshot()))  # or its own window
            runs.append(run)
            for proc, seconds in self.cpu.delta(cpu0, self.cpu.snapshot()).items():
                cpu[proc] = cpu.get(proc, 0.0) + seconds
        self.out["redis"][name] = _merge([r["redis"] for r in runs])
        self.out["cpu"][name] = cpu
        return summarize(runs)

    # Setup and fan-out ----------------------------------------------------------------------------

    def setup(self) -> None:
        setup_graph(self.settings, self.w, self.worker)

    def fanout(self) -> None:
        """Sustained deliveries/s: tweets bulk-loaded into Kafka while the worker is stopped, then drained.

        Each trial drains the same events from the same starting state: the run's Redis data (not the worker's
        progress) is saved once the timelines are materialized and restored before every later trial, and the
        same tweets and likes are produced again (their Cassandra rows are rewritten as they were)."""
        self.worker.stop()
        saved = self._save_redis()
        events: list[Event] = [*self.bulk, *self.w.likes]

        def trial(i: int) -> dict[str, Any]:
            if i:
                self.worker.stop()
                self._restore_redis(saved)
            produce(self.settings, events, f"tweets and likes (bulk, trial {i + 1}/{self.trials})")
            return self._drain(profile="worker-fanout" if i == self.trials - 1 else None)  # one trial sampled

        self.out["fanout"] = self._trials("fanout", trial)
        fan = self.out["fanout"]
        fan["deliveries_per_tweet"] = fan["deliveries"] / max(len(self.bulk), 1)
        fan["capacity_tweets_per_s"] = fan["deliveries_per_s"] / max(fan["deliveries_per_tweet"], 1e-9)

    def _drain(self, profile: str | None = None) -> dict[str, Any]:
        """Starts the worker on what was produced and times it from its first event to idle."""
        rewrite_aof_if_due(self.r)  # the restore before it appended the run's whole state to the AOF
        before = self.worker.stats()
        self.worker.start()
        self.worker.wait_first_event(before)
        counters = self.counters.snapshot()
        t0 = time.monotonic()
        if profile:
            with self.profiled(profile, self.worker.pid):
                t1 = self.worker.wait_idle(desc="fan-out (bulk)")
        else:
            t1 = self.worker.wait_idle(desc="fan-out (bulk)")
        redis_ = self.counters.delta(counters, self.counters.snapshot())
        after = self.worker.stats()
        rates = drain_rates(before, after, t1 - t0)
        return {**rates, **_per_delivery(redis_, rates["deliveries"]), "redis": redis_}

    def _state_patterns(self) -> list[str]:
        """The run's live Redis data, without the worker's own bookkeeping (progress, stats)."""
        own = set(own_patterns(self.settings.redis_prefix))
        return [p for p in data_patterns(self.settings.redis_prefix) if p not in own]

    def _state_keys(self) -> list[bytes]:
        keys: list[bytes] = []
        for pattern in self._state_patterns():
            if "*" in pattern:
                keys += self.r.scan_iter(pattern, count=5000)
            elif self.r.exists(pattern):
                keys.append(pattern.encode())
        return keys

    def _save_redis(self) -> list[tuple[bytes, bytes, int]]:
        """(key, DUMP, ms to live) of the run's Redis data."""
        keys = self._state_keys()
        saved = []
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            pipe = self.r.pipeline(transaction=False)
            for k in chunk:
                pipe.dump(k)
                pipe.pttl(k)
            got = pipe.execute()
            saved += [(k, got[2 * j], max(int(got[2 * j + 1]), 0)) for j, k in enumerate(chunk) if got[2 * j]]
        return saved

    def _restore_redis(self, saved: list[tuple[bytes, bytes, int]]) -> None:
        keys = self._state_keys()
        for i in range(0, len(keys), 1000):
            self.r.unlink(*keys[i : i + 1000])
        for i in range(0, len(saved), 1000):
            pipe = self.r.pipeline(transaction=False)
            for k, dump, ttl in saved[i : i + 1000]:
                pipe.restore(k, ttl, dump, replace=True)
            pipe.execute()

    def _fanned_out(self) -> list[Any]:
        """The bulk tweets chirp pushes (celebrities' are merged at read time, by every design compared)."""
        return [t for t in self.bulk if t.author_id not in self.celebrities]

    def naive_fanout(self) -> None:
        """Baseline: the Twit seed's loop, one unpipelined ZADD per follower, on the same tweets and graph; each
        trial starts from empty timelines and the first tweet, for `seconds`."""
        followers = self.w.followers()
        prefix = f"{self.settings.redis_prefix}naive:"

        def trial(_: int) -> dict[str, Any]:
            for k in self.r.scan_iter(f"{prefix}*", count=5000):
                self.r.unlink(k)
            before = self.counters.snapshot()
            done, t0 = 0, time.monotonic()
            for t in self._fanned_out():
                for f in followers[t.author_id]:
                    self.r.zadd(f"{prefix}{f}", {encode_entry(t.tweet_id, t.author_id): 0})
                    done += 1
                if time.monotonic() - t0 > self.seconds:
                    break
            seconds = time.monotonic() - t0
            redis_ = self.counters.delta(before, self.counters.snapshot())
            return {"deliveries": done, "seconds": seconds, "deliveries_per_s": done / seconds,
                    **_per_delivery(redis_, done), "redis": redis_}  # fmt: skip

        self.out["naive_fanout"] = self._trials("naive_fanout", trial)

    def stream_framework(self) -> None:
        """The Python peer: Stream-Framework 1.4.0's batched fan-out, in its own venv, same graph and tweets
        (SF deletes its keys after each trial, so each starts from empty feeds)."""
        from bench.baselines import stream_framework

        tweets = [(t.tweet_id, t.author_id, t.meta.occurred_at.timestamp()) for t in self._fanned_out()]

        def trial(_: int) -> dict[str, Any]:
            return stream_framework.run(
                self.settings.redis_url,
                self.settings.state_dir,
                f"{self.settings.redis_prefix}sf:",
                self.w.followers(),
                tweets,
                float(self.seconds),
                skip_authors=self.celebrities,
            )

        self.out["stream_framework"] = self._trials("stream_framework", trial)

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
        """Reads idle; reads while tweets come in at half the fan-out capacity measured above, then at twice
        it (saturation: the backlog grows, and shows as post -> visible lag); posts. py-spy samples the API
        during a pass of idle reads, and the API and the worker during a pass at half capacity, each after the
        measured trials (`_profiled_pass`)."""
        self.readers = self._accounts(min(1000, len(self.w.users)))
        api = self.api = Api(self.settings, self.logdir)
        api.start()
        try:
            reads: dict[str, Any] = {}
            with self.phase("reads_idle"):
                reads["idle"] = [self._reads(api.url, c) for c in READ_CONNECTIONS]
            with self.profiled("api-reads", api.pid):
                self._profiled_pass(api.url)
            capacity = self.out["fanout"]["capacity_tweets_per_s"]
            ingest: dict[str, Any] = {"capacity_tweets_per_s": capacity}
            for name, factor, connections in (
                ("half_capacity", 0.5, INGEST_CONNECTIONS),
                ("saturation", SATURATION_FACTOR, SATURATION_CONNECTIONS),
            ):
                rate = max(1.0, capacity * factor)
                self.worker.wait_idle(desc="draining")
                self.r.delete(self.keys.delays())
                with Ingest(self.settings, self.burst, rate) as feed:
                    with self.phase(f"reads_{name}"):
                        reads[name] = [self._reads(api.url, c) for c in connections]
                    if name == "half_capacity":
                        with (
                            self.profiled("api-reads-ingest", api.pid),
                            self.profiled("worker-ingest", self.worker.pid),
                        ):
                            self._profiled_pass(api.url)
                t0 = time.monotonic()
                self.worker.wait_idle(desc="draining")
                values = self._delays()
                ingest[name] = {
                    "offered_per_s": rate,
                    "sent": feed.sent,
                    "sent_per_s": feed.sent / max(feed.seconds, 1e-9),
                    "drain_s": time.monotonic() - t0,  # the backlog left when the reads ended
                    "delay_ms": {**percentiles(values), "max": max(values, default=0.0)},
                }
            self.out["reads"] = reads
            self.out["ingest"] = ingest
            self.out["posts"] = self._trials("posts", lambda _: self._post(api.url))
            self.worker.wait_idle(desc="draining")
        finally:
            api.stop()
        self.out["two_apis"] = self._two_apis()

    def _two_apis(self) -> dict[str, Any]:
        """Reads at 64 connections and posts with two API processes behind nginx, as `chirp run --apis 2` runs
        them (where the targets for the read path at its limit and for posts are set), the worker running."""
        api = self.api = Api(self.settings, self.logdir, count=TWO_APIS)
        api.start()
        try:
            with self.phase("reads_two_apis"):
                reads = self._reads(api.url, POST_CONNECTIONS)
            posts = self._trials("posts_two_apis", lambda _: self._post(api.url))
            self.worker.wait_idle(desc="draining")
            return {"apis": TWO_APIS, "reads": reads, "posts": posts}
        finally:
            api.stop()

    def _reads(self, url: str, connections: int) -> dict[str, Any]:
        def trial() -> dict[str, Any]:
            rewrite_aof_if_due(self.r)
            return wrk(url, "timeline.lua", self.readers, connections, self.seconds)

        return summarize([trial() for _ in range(self.trials)])

    def _profiled_pass(self, url: str) -> None:
        """One more run of reads at 16 connections while py-spy samples, not counted in any figure: the profiler
        takes CPU time (two samplers during the ingest, about a sixth of a core), which the measured trials
        should not pay."""
        if self.results is not None:
            wrk(url, "timeline.lua", self.readers, 16, self.seconds)

    def _post(self, url: str) -> dict[str, Any]:
        """One trial of posts, from an idle worker (the fan-out of the previous trial drained first)."""
        self.worker.wait_idle(desc="draining")
        return wrk(url, "post.lua", self.readers, POST_CONNECTIONS, self.seconds)

    def _accounts(self, n: int) -> list[str]:
        return accounts(self.settings, self.w, n)

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
            self.out["sql_reads"] = [
                summarize([wrk(url, "sql.lua", self.readers, c, self.seconds) for _ in range(self.trials)])
                for c in READ_CONNECTIONS
            ]
        finally:
            pg.stop()

    # Replay and sizes -------------------------------------------------------------------------------

    def replay(self) -> None:
        """A full timeline rebuild from offset 0 into a new Redis prefix, then the same pages compared."""
        from projections.versions import Version
        from streams.replay import rebuild

        version = Version("r", "building", "")  # a scratch version: its own prefix, the live keyspace
        group = f"{self.settings.topic_prefix}bench-replay"
        # As `chirp replay` does before it starts: the bench's own heap (the workload) frozen out of the
        # collector's way, where each full collection walked it, and the young threshold of chirp's processes.
        heap.settle(self.settings.gc_young_threshold)
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
        from bench.memory import families

        fams = families(self.r, self.settings.redis_prefix)
        timelines = fams.get(HOME_FAMILY, {})
        before = self._cassandra_bytes()
        flush = self._flush_cassandra()
        self.out["sizes"] = {
            "redis_bytes_per_entry": timelines.get("bytes_per_entry", 0.0),
            "timelines_sampled": timelines.get("sampled", 0),
            "active_users": timelines.get("keys", 0),  # materialized home timelines
            "redis_families": fams,
            "redis_used_memory": self.r.info("memory")["used_memory"],
            "cassandra_keyspace_bytes": self._cassandra_bytes(),
            "cassandra_bytes_before_flush": before,
            "cassandra_flush": flush,
        }

    def _cassandra_bytes(self) -> int:
        data = self.settings.state_dir / "cassandra" / "data" / "data"
        return sum(
            p.stat().st_size
            for d in data.glob(self.settings.keyspace + "*")
            for p in d.rglob("*")
            if p.is_file() and "snapshots" not in p.parts
        )

    def _flush_cassandra(self, timeout_s: float = 60) -> dict[str, Any]:
        """Flushes the run's tables so the size on disk holds everything written. The services run Cassandra
        without JMX (no nodetool); CQL has no FLUSH, but a table's memtable_flush_period_in_ms makes Cassandra
        flush a memtable older than that period: set on the run's own tables (dropped at the end), then the
        data directory is watched until it holds still."""
        from infra import cassandra

        ks = self.settings.keyspace
        cluster, session = cassandra.connect(self.settings)
        try:
            rows = session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [ks])
            tables = [r.table_name for r in rows]
            t0 = time.monotonic()
            for t in tables:
                session.execute(f'ALTER TABLE "{ks}"."{t}" WITH memtable_flush_period_in_ms = {FLUSH_PERIOD_MS}')
        finally:
            cluster.shutdown()
        time.sleep(FLUSH_PERIOD_MS / 1000 * 2)
        last, still = -1, 0
        while time.monotonic() - t0 < timeout_s and still < 4:  # unchanged for 2 s
            size = self._cassandra_bytes()
            still = still + 1 if size == last else 0
            last = size
            time.sleep(0.5)
        return {"method": "memtable_flush_period_in_ms", "tables": len(tables), "seconds": time.monotonic() - t0}

    def cleanup(self) -> None:
        cleanup(self.settings)


# The pieces every benchmark of a deployment shares (bench/cluster.py too) ----------------------------


def run_settings(w: Workload, **changes: Any) -> Settings:
    """The settings of one run: the environment's (its topology), with topics, keyspace and Redis keys of its
    own (removed by `cleanup`), no rate limits and the workload's celebrity threshold."""
    run = datetime.now(UTC).strftime("%H%M%S")
    fields: dict[str, Any] = {
        "topic_prefix": f"bench{run}.",
        "keyspace": f"bench_{run}",
        "redis_prefix": f"bench{run}:",
        "api_port": 8099,
        "log_level": "warning",
        "worker_id": "bench",
        "celebrity_threshold": w.profile.celebrity_threshold,
        "rate_limits": "off",  # a load test: one address registers thousands of users
    }
    return Settings(**(fields | changes))


def drain_rates(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, Any]:
    """A drain's work and rates, from the workers' running totals (Worker.stats) before and after it."""
    deliveries = after["deliveries"] - before.get("deliveries", 0)
    events = after["events"] - before.get("events", 0)
    return {
        "deliveries": deliveries,
        "events": events,
        "seconds": seconds,
        "deliveries_per_s": deliveries / seconds,
        "events_per_s": events / seconds,
    }


def setup_graph(settings: Settings, w: Workload, worker: Worker) -> None:
    """Users and follows produced and projected (the worker is left running), every timeline materialized."""
    produce(settings, w.setup_events(), "users and follows")
    worker.start()
    worker.wait_idle(desc="projecting the graph")
    with_redis(settings, lambda nodes: _activate(settings, nodes, w.users))


async def _activate(settings: Settings, nodes: RedisNodes, users: list[int]) -> None:
    """Every user has read recently: their timelines are materialized (fan-out writes to them)."""
    from projections.factory import timelines_of
    from projections.versions import VersionRegistry

    client: Any = nodes.client
    live = await VersionRegistry(client, settings.redis_prefix).live()
    tl = timelines_of(settings, nodes, live)
    for i in range(0, len(users), 100):
        await tl.rebuild_many(users[i : i + 100])


def accounts(settings: Settings, w: Workload, n: int) -> list[str]:
    """Bearer tokens for the workload's first n users (`<user id> <token>` lines for bench/wrk), saved as the
    API saves them at registration."""
    from infra import cassandra
    from infra.accounts import CassandraAccounts, new_token

    cluster, session = cassandra.connect(settings, settings.keyspace)
    store = CassandraAccounts(session)
    lines = []

    async def save() -> None:
        for u, h in list(zip(w.users, w.handles, strict=True))[:n]:
            token = new_token()
            await store.save_token(token, u)
            await store.record_account(u, h)
            lines.append(f"{u} {token}")

    asyncio.run(save())
    cluster.shutdown()
    return lines


def cleanup(settings: Settings) -> None:
    """A run's keys (on every primary of a Redis Cluster), topics and keyspace: a benchmark leaves nothing."""
    from infra.migrate import drop
    from projections.stores.redis import remove_keys

    with_redis(settings, lambda nodes: remove_keys(nodes, [RedisKeys(settings.redis_prefix).everything()]))
    drop(settings)


def _per_delivery(delta: dict[str, Any], deliveries: int) -> dict[str, Any]:
    """Redis's cost of a fan-out: CPU µs per delivery and µs per call of the delivery's commands (LPUSH into a
    home timeline, LINDEX of its head; ZADD: the author's recent list) and of the script (EVALSHA)."""
    return {
        "redis_cpu_s": delta["cpu_s"],
        "redis_cpu_us_per_delivery": delta["cpu_s"] * 1e6 / max(deliveries, 1),
        "lpush_usec_per_call": usec_per_call(delta, "lpush"),
        "lindex_usec_per_call": usec_per_call(delta, "lindex"),
        "zadd_usec_per_call": usec_per_call(delta, "zadd"),
        "evalsha_usec_per_call": usec_per_call(delta, "evalsha"),
    }


def _merge(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """Several phases' Redis counters as one (the trials of a figure)."""
    commands: dict[str, dict[str, float]] = {}
    for d in deltas:
        for name, c in d["commands"].items():
            m = commands.setdefault(name, {"calls": 0, "usec": 0})
            m["calls"] += c["calls"]
            m["usec"] += c["usec"]
    for m in commands.values():
        m["usec_per_call"] = m["usec"] / m["calls"]
    return {
        "seconds": sum(d["seconds"] for d in deltas),
        "cpu_s": sum(d["cpu_s"] for d in deltas),
        "commands": dict(sorted(commands.items(), key=lambda kv: -kv[1]["usec"])),
        "counters_reset": any(d.get("counters_reset") for d in deltas),
    }


def _sample(values: list[float], n: int) -> list[float]:
    return values if len(values) <= n else random.Random(0).sample(values, n)
