"""Plumbing for the benchmark: bulk loading into Kafka, the worker and API as child processes, waiting
for the worker by offsets, and wrk runs parsed into numbers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from infra import kafka, redisnodes
from infra.kafka import end_offsets
from infra.redisnodes import RedisNodes
from infra.settings import REPO_ROOT, Settings
from ops.topology import Child, plan
from projections.stores.keys import RedisKeys
from schemas.codec import default_codec
from schemas.events import Event, TweetPosted
from schemas.ids import TOOL_NODES, IdGenerator
from schemas.topics import key_for, topic_for

WRK_LUA = Path(__file__).parent / "wrk"
T = TypeVar("T")


async def _produce(
    settings: Settings, events: Sequence[Event], desc: str, rate: float | None, restamp: bool, quiet: bool
) -> None:
    codec = default_codec()
    # bulk loading: bigger, compressed batches, and the client's default request timeout (not the API's 503 one)
    producer = kafka.producer(
        settings, "chirp-bench", linger_ms=5, max_batch_size=256 * 1024, compression_type="lz4",
        request_timeout_ms=40_000,
    )  # fmt: skip
    await producer.start()
    try:
        start = time.monotonic()
        pending = []
        with tqdm(total=len(events), desc=desc, unit="ev", mininterval=1, disable=quiet) as bar:
            for i, e in enumerate(events):
                if restamp:  # the event time is the send time: delays then measure the pipeline only
                    e = replace(e, meta=replace(e.meta, occurred_at=datetime.now(UTC)))
                topic = topic_for(e).kafka_name(settings.topic_prefix)
                pending.append(await producer.send(topic, codec.encode(e), key=key_for(e)))
                if rate is not None:
                    ahead = start + (i + 1) / rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                if len(pending) >= 5000:
                    await asyncio.gather(*pending)
                    bar.update(len(pending))
                    pending.clear()
            await asyncio.gather(*pending)
            bar.update(len(pending))
    finally:
        await producer.stop()


FEED_NICE = 10
FEED_TICK_S = 0.025  # the paced feed sends what is due at most this often


class Ingest:
    """Tweets produced in the background at `rate` per second (None: as fast as the producer goes), fresh ids
    and event times, cycling over `tweets`, until stopped: the load reads are measured under."""

    def __init__(self, settings: Settings, tweets: Sequence[TweetPosted], rate: float | None) -> None:
        self.settings = settings
        self.tweets = tweets
        self.rate = rate
        self.sent = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Ingest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    async def _run(self) -> None:
        # The feed stands for clients on other machines: on this box it yields the cores to the system under
        # test (its achieved rate is reported beside the offered one).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), FEED_NICE)
        codec = default_codec()
        ids = IdGenerator(node_id=TOOL_NODES[-1])
        producer = kafka.producer(self.settings, "chirp-bench-ingest", linger_ms=5, compression_type="lz4")
        await producer.start()
        try:
            start = time.monotonic()
            pending = []
            while not self._stop.is_set():
                t = self.tweets[self.sent % len(self.tweets)]
                e = replace(t, tweet_id=ids.next_id(), meta=replace(t.meta, occurred_at=datetime.now(UTC)))
                e = replace(e, meta=replace(e.meta, event_id=f"t{e.tweet_id}"))
                topic = topic_for(e).kafka_name(self.settings.topic_prefix)
                pending.append(await producer.send(topic, codec.encode(e), key=key_for(e)))
                self.sent += 1
                if self.rate is not None:
                    # Paced in ticks: what is due goes out together, as many clients' posts reach Kafka
                    # through the API's producers, not one produce request per tweet from one client.
                    ahead = start + self.sent / self.rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(max(ahead, FEED_TICK_S))
                if len(pending) >= 1000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)
            self.seconds = time.monotonic() - start
        finally:
            await producer.stop()


def produce(
    settings: Settings,
    events: Sequence[Event],
    desc: str,
    rate: float | None = None,
    restamp: bool = False,
    quiet: bool = False,
) -> float:
    """Appends events straight to their topics (bulk, or paced at `rate` per second); returns seconds."""
    t0 = time.monotonic()
    asyncio.run(_produce(settings, events, desc, rate, restamp, quiet))
    return time.monotonic() - t0


def _text(k: bytes | str) -> str:
    return k.decode() if isinstance(k, bytes) else k


def with_redis(settings: Settings, work: Callable[[RedisNodes], Awaitable[T]]) -> T:
    """Runs `work` against the settings' Redis (one, or a Redis Cluster's nodes: infra/redisnodes.py)."""

    async def run() -> T:
        nodes = await redisnodes.open_nodes(settings)
        try:
            return await work(nodes)
        finally:
            await nodes.aclose()

    return asyncio.run(run())


async def _stats(nodes: RedisNodes, prefix: str) -> dict[str, int]:
    raw = await nodes.client.hgetall(RedisKeys(prefix).stats())
    return {_text(k): int(v) for k, v in raw.items()}


class Processes:
    """Processes of a deployment as `chirp run` plans them (ops/topology.py), run as the bench's children with
    their output in `logdir`; stopped (and resumed first if paused) by `stop`."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, children: Sequence[Child], tag: str = "") -> None:
        for c in children:
            log = (self.logdir / f"{c.name}{tag}.log").open("ab")
            self.procs[c.name] = subprocess.Popen(c.command, cwd=REPO_ROOT, env=c.env, stdout=log,
                                                  stderr=subprocess.STDOUT)  # fmt: skip

    @property
    def pids(self) -> dict[str, int | None]:
        """Each process's pid while it runs (for CPU accounting)."""
        return {name: p.pid if p.poll() is None else None for name, p in self.procs.items()}

    @property
    def pid(self) -> int | None:
        return next((pid for pid in self.pids.values() if pid is not None), None)

    def signal(self, sig: signal.Signals) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(sig)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def exited(self) -> str | None:
        return next((name for name, p in self.procs.items() if p.poll() is not None), None)


class Worker(Processes):
    """`python -m streams` with the bench's settings: `count` processes of one consumer group sharing the
    partitions, started as `chirp run --workers N` starts them."""

    def __init__(self, settings: Settings, logdir: Path, count: int = 1) -> None:
        super().__init__(logdir)
        self.settings = settings
        self.count = count

    def start(self) -> None:
        self.spawn(plan(self.settings, self.count, 0), tag=f"-{self.settings.worker_id}")

    def pause(self) -> None:
        """SIGSTOP: the workers keep their partitions (within the session timeout) but consume nothing."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def stats(self) -> dict[str, int]:
        """The running totals every worker of the group adds to: `events` applied, `deliveries` made."""
        return with_redis(self.settings, lambda nodes: _stats(nodes, self.settings.redis_prefix))

    def wait_first_event(self, before: dict[str, int], deadline_s: float = 120) -> None:
        """Blocks until the workers have applied an event since `before` (their stats then)."""

        async def poll(nodes: RedisNodes) -> None:
            deadline = time.monotonic() + deadline_s
            while (await _stats(nodes, self.settings.redis_prefix)).get("events", 0) == before.get("events", 0):
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start consuming")
                self._running()
                await asyncio.sleep(0.005)

        with_redis(self.settings, poll)

    def wait_idle(self, deadline_s: float = 1800, desc: str = "worker") -> float:
        """Blocks until the recorded progress reaches the end offsets taken now; returns when it did."""
        return with_redis(self.settings, lambda nodes: self._wait_idle(nodes, deadline_s, desc))

    async def _wait_idle(self, nodes: RedisNodes, deadline_s: float, desc: str) -> float:
        from projections.factory import progress_of
        from projections.versions import VersionRegistry

        ends = await end_offsets(self.settings)
        client: Any = nodes.client
        try:
            live = await VersionRegistry(client, self.settings.redis_prefix).live()
            progress = progress_of(self.settings, client, live)
            with tqdm(total=sum(ends.values()), desc=desc, unit="ev", mininterval=1) as bar:
                return await progress.wait_until(
                    ends, deadline_s, poll_s=0.01, check=self._running, reached=lambda n, _: bar.update(n - bar.n)
                )
        except TimeoutError:
            raise RuntimeError(f"the worker did not catch up within {deadline_s}s") from None

    def _running(self) -> None:
        if not self.procs or (name := self.exited()) is not None:
            raise RuntimeError(f"the worker {name or ''} exited; see {self.logdir}")

    def group(self) -> tuple[str, list[bool]]:
        """The consumer group as Kafka's coordinator sees it: its state, and for each member whether it holds
        an assignment."""
        return asyncio.run(self._group())

    async def _group(self) -> tuple[str, list[bool]]:
        admin = kafka.admin_client(self.settings)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([self.settings.worker_group])
            for g in response.groups:
                if g[1] == self.settings.worker_group:
                    return str(g[2]), [bool(m[4]) for m in g[5]]
            return "Dead", []
        finally:
            await admin.close()

    def wait_group(self, deadline_s: float = 120) -> float:
        """Blocks until the group is stable with every worker holding partitions; returns the seconds waited."""

        async def poll() -> float:
            t0 = time.monotonic()
            while True:
                state, members = await self._group()
                if state == "Stable" and len(members) == self.count and all(members):
                    return time.monotonic() - t0
                if time.monotonic() - t0 > deadline_s:
                    raise RuntimeError(f"the group is {state} with {len(members)} of {self.count} workers")
                self._running()
                await asyncio.sleep(0.2)

        return asyncio.run(poll())


class Api(Processes):
    """The real API (`python -m api`, uvicorn) on the API port: one process, or `count` processes as
    `chirp run --apis N` starts them: behind nginx on that port (each on a port of its own above it), or with
    `CHIRP_API_BALANCER=kernel` all on that port."""

    def __init__(self, settings: Settings, logdir: Path, count: int = 1) -> None:
        super().__init__(logdir)
        self.settings = settings
        self.count = count
        self.url = f"http://{settings.api_host}:{settings.api_port}"

    def start(self) -> None:
        import httpx

        children = plan(self.settings, 0, self.count)
        self.spawn(children)
        deadline = time.monotonic() + 60
        for url in self.readiness(children):  # each process, then the port in front of them
            while True:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or self.exited():
                    self.stop()
                    raise RuntimeError(f"the API did not become ready at {url}; see {self.logdir}")
                time.sleep(0.2)

    def readiness(self, children: Sequence[Child]) -> list[str]:
        """What answers once every process serves: each process's /readyz on its own port, then the API port's.
        Processes sharing the API port are told apart by their metrics endpoints, which start right before the
        process listens (`api.__main__.shared_socket`)."""
        host, apis = self.settings.api_host, [c for c in children if c.name != "nginx"]
        own = [f"http://{host}:{c.env['CHIRP_API_PORT']}/readyz" for c in apis if self.count > 1]
        if self.count > 1 and self.settings.api_balancer == "kernel":
            metrics = [c.env["CHIRP_API_METRICS_PORT"] for c in apis]
            own = [f"http://{self.settings.api_metrics_host}:{port}/" for port in metrics if port != "0"]
        return [*own, f"{self.url}/readyz"]


def checkout_commit() -> str:
    """The checkout's short commit, with "+" when it has uncommitted changes."""
    git = ["git", "-C", str(REPO_ROOT)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def ensure_wrk() -> None:
    """wrk drives the HTTP load (C, event-driven: it does not steal the machine from the API)."""
    import shutil

    from infra.services.provision import apt_install

    if shutil.which("wrk") is None:
        apt_install("wrk")


def wrk(url: str, script: str, data: Iterable[str], connections: int, seconds: int, threads: int = 1) -> dict[str, Any]:
    """Runs wrk with one of bench/wrk/*.lua, feeding it lines of data; returns rps and latency percentiles."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(data) + "\n")
    env = dict(os.environ, CHIRP_WRK_DATA=f.name)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
           "-s", str(WRK_LUA / script), url]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    Path(f.name).unlink()
    line = next(x for x in out.splitlines() if x.startswith("{"))
    r: dict[str, Any] = json.loads(line)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["connections"] = connections
    return r
