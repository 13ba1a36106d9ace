"""Plumbing for the benchmark: bulk loading into Kafka, the worker and API as child processes, waiting
for the worker by offsets, and wrk runs parsed into numbers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

from infra import kafka
from infra.kafka import end_offsets
from infra.settings import REPO_ROOT, Settings
from projections.stores.keys import RedisKeys
from schemas.codec import default_codec
from schemas.events import Event, TweetPosted
from schemas.ids import TOOL_NODES, IdGenerator
from schemas.topics import key_for, topic_for

WRK_LUA = Path(__file__).parent / "wrk"


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
                    ahead = start + self.sent / self.rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
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


class Worker:
    """`python -m streams` with the bench's settings."""

    def __init__(self, settings: Settings, logdir: Path) -> None:
        self.settings = settings
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.r = redis.Redis.from_url(settings.redis_url)

    def start(self) -> None:
        log = (self.logdir / f"worker-{self.settings.worker_id}.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "streams"], cwd=REPO_ROOT, env=self.settings.child_env(),
                                     stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def stats(self) -> dict[str, int]:
        raw = self.r.hgetall(RedisKeys(self.settings.redis_prefix).stats())
        return {_text(k): int(v) for k, v in raw.items()}

    def wait_idle(self, deadline_s: float = 1800, desc: str = "worker") -> float:
        """Blocks until the recorded progress reaches the end offsets taken now; returns when it did."""
        return asyncio.run(self._wait_idle(deadline_s, desc))

    async def _wait_idle(self, deadline_s: float, desc: str) -> float:
        import redis.asyncio as aioredis

        from projections.factory import progress_of
        from projections.versions import VersionRegistry

        ends = await end_offsets(self.settings)
        client = aioredis.Redis.from_url(self.settings.redis_url)
        try:
            live = await VersionRegistry(client, self.settings.redis_prefix).live()
            progress = progress_of(self.settings, client, live)
            with tqdm(total=sum(ends.values()), desc=desc, unit="ev", mininterval=1) as bar:
                return await progress.wait_until(
                    ends, deadline_s, poll_s=0.01, check=self._running, reached=lambda n, _: bar.update(n - bar.n)
                )
        except TimeoutError:
            raise RuntimeError(f"the worker did not catch up within {deadline_s}s") from None
        finally:
            await client.aclose()

    def _running(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"the worker exited; see {self.logdir}")


class Api:
    """The real API (`python -m api`, uvicorn) on its own port."""

    def __init__(self, settings: Settings, logdir: Path) -> None:
        self.settings = settings
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://{settings.api_host}:{settings.api_port}"

    def start(self) -> None:
        import httpx

        log = (self.logdir / "api.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=REPO_ROOT, env=self.settings.child_env(),
                                     stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the API did not become ready; see {self.logdir / 'api.log'}")
            time.sleep(0.2)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


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
