"""`make bench-cluster`: the scaling shape of a deployment, on whatever topology the settings name (one node of
each by default, the cluster topology with infra/cluster.env), each figure beside its baseline measured in the
same run:

1. fan-out deliveries/s with one stream worker, and with two sharing the partitions (one consumer group, as
   `chirp run --workers 2` starts them): the workers join the group, warm up on a few tweets and are paused
   (SIGSTOP, within their session timeout, so they keep their partitions); a backlog of fresh tweets is
   produced, then they are resumed and timed from the first event applied to idle;
2. home-timeline reads/s and p50/p99 at 64 connections with one API process, and with two behind nginx on one
   port (as `chirp run --apis 2`); the workers are stopped;
3. the cost of replication: posts/s and p50/p99 at 64 connections through one API process (acks=all), with a
   worker running, on the run's topics and keyspace at the topology's replication, against a second set
   (topic prefix, keyspace, Redis prefix) made in the same run at replication 1 (min.insync 1, LOCAL_ONE).

CPU seconds of every process (services, workers, API processes, nginx, the bench and its wrk) are recorded per
phase, so per-core figures can be derived. Results go to bench/results/<timestamp>-cluster.json and .md.

    python -m bench.cluster [--tiny | --quick | --large] [--trials N] [--seed N] [--seconds S] [--port P]

Every figure is the median of --trials trials (default 3), with its spread (min-max).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.cpu import ProcessCpu
from bench.harness import Api, Worker, checkout_commit, ensure_wrk, produce, wrk
from bench.report import DASH, cpu_table, read_cell, spread
from bench.stats import summarize
from bench.suite import accounts, cleanup, drain_rates, run_settings, setup_graph
from bench.workload import Workload, add_profile_options, chosen_profile, generate
from infra.settings import Settings

RESULTS = Path(__file__).parent / "results"
WORKERS = (1, 2)  # fan-out: stream workers of one group
APIS = (1, 2)  # reads: API processes (two: behind nginx)
CONNECTIONS = 64  # wrk connections for reads and posts
READERS = 1_000  # users with a bearer token (reads and posts rotate over them)
WARM_TWEETS = 16  # per drain: applied before the pause, so every worker is consuming when the backlog comes
SESSION_TIMEOUT_S = 60.0  # a paused worker keeps its partitions this long (the backlog is produced meanwhile)
WARMUP_S = 1  # a discarded wrk run before the timed ones (connections, token caches)
T = TypeVar("T")


def split(items: Sequence[T], parts: int, warm: int) -> list[tuple[list[T], list[T]]]:
    """`parts` disjoint, equal slices of `items` (the remainder unused), each as (its first `warm` items, the
    rest): one fresh slice per drain, so that every trial does the same amount of work."""
    size = len(items) // parts
    if size <= warm:
        raise ValueError(f"{len(items)} items make {parts} slices of {size}, not more than {warm} each")
    out = []
    for i in range(parts):
        chunk = list(items[i * size : (i + 1) * size])
        out.append((chunk[:warm], chunk[warm:]))
    return out


def order(trial: int, configs: Sequence[T]) -> list[T]:
    """The configurations of a trial, reversed every other trial: drift over the run (a warming JVM, Redis
    growing) falls on both sides equally."""
    return list(configs) if trial % 2 == 0 else list(reversed(configs))


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def baseline_replication() -> dict[str, Any]:
    """The replication-1 side of the posts comparison: everything else as the topology has it."""
    return {
        "kafka_replication_factor": 1,
        "kafka_min_insync_replicas": 1,
        "cassandra_replication_factor": 1,
        "cassandra_consistency": "LOCAL_ONE",  # a quorum of one replica: the same thing, said plainly
    }


def topology(s: Settings) -> dict[str, Any]:
    return {
        "kafka_brokers": len(s.kafka_nodes),
        "kafka_replication_factor": s.kafka_replication_factor,
        "kafka_min_insync_replicas": s.min_insync_replicas,
        "cassandra_nodes": len(s.cassandra_contact_points),
        "cassandra_replication_factor": s.cassandra_replication_factor,
        "cassandra_consistency": s.cassandra_consistency,
        "redis_nodes": len(s.redis_nodes),
        "redis_cluster": s.redis_cluster,
        "partitions": s.partitions,
    }


def _cpu_of(cpu: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in cpu.items() if k.startswith(prefix))


class ClusterBench:
    def __init__(self, w: Workload, seconds: int, logdir: Path, trials: int, port: int) -> None:
        self.w = w
        self.seconds = seconds
        self.logdir = logdir
        self.trials = trials
        # workers and API processes: metrics endpoints off (several run at once), and a session timeout that
        # outlasts the pause while a backlog is produced
        self.settings = run_settings(
            w, api_port=port, worker_metrics_port=0, api_metrics_port=0, worker_session_timeout_s=SESSION_TIMEOUT_S
        )
        s = self.settings
        self.baseline = s.model_copy(
            update={
                "topic_prefix": s.topic_prefix.rstrip(".") + "r1.",
                "keyspace": f"{s.keyspace}_r1",
                "redis_prefix": s.redis_prefix.rstrip(":") + "r1:",
                "api_port": port + 5,
                **baseline_replication(),
            }
        )
        self.running: list[Worker | Api] = []
        self.cpu = ProcessCpu(self._processes)
        self.out: dict[str, Any] = {
            **w.summary(),
            "trials": trials,
            "seconds": seconds,
            "connections": CONNECTIONS,
            "names": {  # the run's own, removed at its end
                "topics": [s.topic_prefix, self.baseline.topic_prefix],
                "keyspaces": [s.keyspace, self.baseline.keyspace],
                "redis": [s.redis_prefix, self.baseline.redis_prefix],
            },
            "topology": topology(s),
            "baseline_replication": topology(self.baseline),
            "cpu": {},  # phase -> CPU seconds per process, over its trials
            "wall": {},  # phase -> wall seconds of those trials
        }

    def _local(self, s: Settings) -> Settings:
        """The settings the bench's workers and API processes run with: their own state (Faust's data folder,
        nginx's configuration) in the run's folder, not the services' state folder."""
        return s.model_copy(update={"state_dir": self.logdir})

    def _processes(self) -> dict[str, int | None]:
        from infra.services.launcher import services

        roots: dict[str, int | None] = {svc.name: svc.pid() for svc in services(self.settings)}
        for group in self.running:
            tag = "" if group.settings.topic_prefix == self.settings.topic_prefix else "-r1"
            roots |= {f"{name}{tag}": pid for name, pid in group.pids.items()}
        return roots | {"bench": os.getpid()}  # with its load generators (wrk) and the produce calls

    @contextmanager
    def measured(self, phase: str) -> Iterator[dict[str, float]]:
        """CPU seconds per process over the block (yielded, filled at its end), added to the phase's."""
        cpu: dict[str, float] = {}
        before, t0 = self.cpu.snapshot(), time.monotonic()
        yield cpu
        cpu.update(self.cpu.delta(before, self.cpu.snapshot()))
        total = self.out["cpu"].setdefault(phase, {})
        for name, seconds in cpu.items():
            total[name] = total.get(name, 0.0) + seconds
        self.out["wall"][phase] = self.out["wall"].get(phase, 0.0) + time.monotonic() - t0

    def run(self) -> dict[str, Any]:
        from infra.migrate import migrate

        try:
            for s in (self.settings, self.baseline):
                migrate(s, report=lambda _: None)
            for s in (self.settings, self.baseline):
                worker = Worker(self._local(s), self.logdir)
                self.running = [worker]
                with self.measured("setup"):
                    setup_graph(s, self.w, worker)
                worker.stop()
            self.fanout()
            self.reads()
            self.posts()
        finally:
            for group in self.running:
                group.stop()
            for s in (self.settings, self.baseline):  # each side's, even when the other's fails
                try:
                    cleanup(s)
                except Exception as exc:  # reported; the run's own error, if any, is the one raised
                    print(f"cleanup of {s.topic_prefix}* / {s.keyspace} / {s.redis_prefix}* failed: {exc!r}")
        return self.out

    # Fan-out -------------------------------------------------------------------------------------------

    def fanout(self) -> None:
        slices = iter(split(self.w.tweets, self.trials * len(WORKERS), WARM_TWEETS))
        runs: dict[int, list[dict[str, Any]]] = {n: [] for n in WORKERS}
        for i in range(self.trials):
            for n in order(i, WORKERS):
                warm, backlog = next(slices)
                print(f"fan-out, trial {i + 1}/{self.trials}: {n} worker(s), {len(backlog):,} tweets", flush=True)
                runs[n].append(self._drain(n, warm, backlog))
        self.out["fanout"] = {str(n): summarize(r) for n, r in runs.items()}

    def _drain(self, n: int, warm: list[Any], backlog: list[Any]) -> dict[str, Any]:
        worker = Worker(self._local(self.settings), self.logdir, count=n)
        self.running = [worker]
        worker.start()
        try:
            joined_s = worker.wait_group()
            produce(self.settings, warm, "warm-up", quiet=True)
            worker.wait_idle(desc="warm-up")
            worker.pause()
            paused = time.monotonic()
            produce(self.settings, backlog, f"backlog for {n} worker(s)")
            before = worker.stats()
            with self.measured(f"fanout_{n}w") as cpu:
                worker.resume()
                paused_s = time.monotonic() - paused
                worker.wait_first_event(before)
                t0 = time.monotonic()
                t1 = worker.wait_idle(desc=f"fan-out, {n} worker(s)")
            after = worker.stats()
            state, members = worker.group()
        finally:
            worker.stop()
            self.running = []
        rates = drain_rates(before, after, t1 - t0)
        worker_cpu = _cpu_of(cpu, "worker")
        return {
            "workers": n,
            "tweets": len(backlog),
            **rates,
            "worker_cpu_s": worker_cpu,
            "deliveries_per_worker_cpu_s": rates["deliveries"] / worker_cpu if worker_cpu else 0.0,
            "joined_s": joined_s,
            "paused_s": paused_s,  # past SESSION_TIMEOUT_S the group would have rebalanced during the drain
            "paused_within_session": paused_s < SESSION_TIMEOUT_S,
            "group_after": f"{state}, {len(members)} members",  # still n: no rebalance during the drain
            "cpu": cpu,
        }

    # Reads -----------------------------------------------------------------------------------------------

    def reads(self) -> None:
        readers = accounts(self.settings, self.w, min(READERS, len(self.w.users)))
        self.out["reads"] = {}
        for n in APIS:
            api = Api(self._local(self.settings), self.logdir, count=n)
            self.running = [api]
            print(f"reads: {n} API process(es), {self.trials} trial(s) of {self.seconds} s", flush=True)
            api.start()
            try:
                wrk(api.url, "timeline.lua", readers, CONNECTIONS, WARMUP_S)
                runs = []
                for _ in range(self.trials):
                    with self.measured(f"reads_{n}api") as cpu:
                        r = wrk(api.url, "timeline.lua", readers, CONNECTIONS, self.seconds)
                    api_cpu = _cpu_of(cpu, "api")
                    r |= {"apis": n, "api_cpu_s": api_cpu, "nginx_cpu_s": cpu.get("nginx", 0.0),
                          "reads_per_api_cpu_s": r["requests"] / api_cpu if api_cpu else 0.0, "cpu": cpu}  # fmt: skip
                    runs.append(r)
                self.out["reads"][str(n)] = summarize(runs)
            finally:
                api.stop()
                self.running = []

    # Posts at replication 1 and at the topology's -------------------------------------------------------

    def posts(self) -> None:
        """Both deployments run side by side (a worker and an API process each); their trials alternate."""
        sides = {"baseline": self.baseline, "topology": self.settings}
        tokens = {name: accounts(s, self.w, min(READERS, len(self.w.users))) for name, s in sides.items()}
        workers = {name: Worker(self._local(s), self.logdir) for name, s in sides.items()}
        apis = {name: Api(self._local(s), self.logdir) for name, s in sides.items()}
        self.running = [*workers.values(), *apis.values()]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        try:
            for name in sides:
                workers[name].start()
                apis[name].start()
                wrk(apis[name].url, "post.lua", tokens[name], CONNECTIONS, WARMUP_S)
            for i in range(self.trials):
                for name in order(i, list(sides)):
                    print(f"posts, trial {i + 1}/{self.trials}: {name} replication", flush=True)
                    worker, url = workers[name], apis[name].url
                    worker.wait_idle(desc="draining")
                    with self.measured(f"posts_{name}") as cpu:
                        r = wrk(url, "post.lua", tokens[name], CONNECTIONS, self.seconds)
                        t0 = time.monotonic()
                        drain_s = worker.wait_idle(desc="draining") - t0
                    rf = sides[name].kafka_replication_factor
                    runs[name].append(r | {"replication": rf, "drain_s": max(drain_s, 0.0), "cpu": cpu})
        finally:
            for group in self.running:
                group.stop()
            self.running = []
        self.out["posts"] = {name: summarize(r) for name, r in runs.items()}


# The report ---------------------------------------------------------------------------------------------


def rows(out: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, baseline, measured, ratio of medians) rows."""
    r: list[tuple[str, str, str, str]] = []
    fan = out.get("fanout", {})
    if fan:
        one, two = fan["1"], fan["2"]
        r.append((f"fan-out deliveries/s, 1 → 2 workers ({out['topology']['partitions']} partitions each topic)",
                  spread(one, "deliveries_per_s"), spread(two, "deliveries_per_s"),
                  ratio(two["deliveries_per_s"], one["deliveries_per_s"])))  # fmt: skip
        r.append(("fan-out deliveries per worker CPU-second",
                  spread(one, "deliveries_per_worker_cpu_s"), spread(two, "deliveries_per_worker_cpu_s"),
                  ratio(two["deliveries_per_worker_cpu_s"], one["deliveries_per_worker_cpu_s"])))  # fmt: skip
    reads = out.get("reads", {})
    if reads:
        one, two = reads["1"], reads["2"]
        r.append((f"home reads/s, c={out['connections']}, 1 → 2 API processes behind nginx (p50 / p99 ms)",
                  read_cell(one), read_cell(two), ratio(two["rps"], one["rps"])))  # fmt: skip
        r.append(("home reads per API CPU-second (nginx's CPU apart)",
                  spread(one, "reads_per_api_cpu_s"),
                  f"{spread(two, 'reads_per_api_cpu_s')}; nginx {two['nginx_cpu_s']:.1f} CPU-s per trial",
                  ratio(two["reads_per_api_cpu_s"], one["reads_per_api_cpu_s"])))  # fmt: skip
    posts = out.get("posts", {})
    if posts:
        base, top = posts["baseline"], posts["topology"]
        t, b = out["topology"], out["baseline_replication"]
        r.append((f"posts/s, c={out['connections']}, acks=all, replication {b['kafka_replication_factor']} → "
                  f"{t['kafka_replication_factor']} (Kafka min.insync {t['kafka_min_insync_replicas']}; Cassandra "
                  f"{t['cassandra_replication_factor']}, {t['cassandra_consistency']}) (p50 / p99 ms)",
                  read_cell(base), read_cell(top), ratio(top["rps"], base["rps"])))  # fmt: skip
        r.append(("the worker's catch-up after the posts, s",
                  spread(base, "drain_s", ".2f"), spread(top, "drain_s", ".2f"),
                  ratio(top["drain_s"], base["drain_s"])))  # fmt: skip
    return r


def headline(out: dict[str, Any]) -> str:
    t = out["topology"]
    redis = f"a Redis Cluster of {t['redis_nodes']}" if t["redis_cluster"] else "one Redis"
    return (
        f"chirp scaling — profile {out['profile']} (seed {out['seed']}): {out['users']:,} users, "
        f"{out['follows']:,} follows, {out['tweets']:,} tweets; {t['kafka_brokers']} Kafka broker(s), "
        f"{t['cassandra_nodes']} Cassandra node(s), {redis}; figures: median (min{DASH}max) of {out['trials']} "
        f"trials of {out['seconds']} s"
    )


def render(out: dict[str, Any]) -> str:
    lines = [f"# {headline(out)}", "", "| figure | baseline (same run) | measured | ratio |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(out)]
    lines += ["", "## CPU seconds per process and phase (`/proc`), summed over the phase's trials", ""]
    lines += cpu_table(out, out.get("wall", {}))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_profile_options(parser, tiny="a check that it runs")
    parser.add_argument("--trials", type=int, default=3, help="trials per figure (default 3)")
    parser.add_argument("--port", type=int, default=8090,
                        help="API port (nginx; API processes above it; the replication-1 API on port+5)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default bench/results)")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    profile, seconds = chosen_profile(args)
    ensure_wrk()
    print(f"generating the {profile.name} workload (seed {args.seed}), {args.trials} trial(s) per figure", flush=True)
    w = generate(profile, args.seed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chirp-bench-cluster-") as logdir:
        out = ClusterBench(w, seconds, Path(logdir), args.trials, args.port).run()
    out["finished_at"] = datetime.now(UTC).isoformat()
    out["commit"] = checkout_commit()
    (args.out / f"{stamp}-cluster.json").write_text(json.dumps(out, indent=2))
    text = render(out)
    (args.out / f"{stamp}-cluster.md").write_text(text)
    print(text)
    print(f"results: {args.out / stamp}-cluster.json and .md")


if __name__ == "__main__":
    main()
