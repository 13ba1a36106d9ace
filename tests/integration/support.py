"""Helpers for tests against the real services: a plain consumer that decodes with only the .avsc files."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import httpx
from aiokafka.errors import KafkaError
from fastapi.testclient import TestClient
from fastavro.schema import fingerprint, to_parsing_canonical_form

from infra.settings import REPO_ROOT, Settings
from ops.chaos import free_port, terminate
from projections.stores.redis import wait_caught_up

AVSC_DIR = REPO_ROOT / "schemas" / "avro"


class AvscDecoder:
    """What an analyst would write: load every .avsc, read the single-object header, decode.

    Deliberately independent of chirp's codec module.
    """

    def __init__(self, directory: Path = AVSC_DIR) -> None:
        self.writers: dict[bytes, Any] = {}
        for path in directory.glob("*.avsc"):
            raw = json.loads(path.read_text())
            fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))
            self.writers[fp] = fastavro.parse_schema(raw, named_schemas={})

    def decode(self, data: bytes) -> dict[str, Any]:
        assert data[:2] == b"\xc3\x01", "not Avro single-object encoding"
        record = fastavro.schemaless_reader(io.BytesIO(data[10:]), self.writers[data[2:10]], None)
        assert isinstance(record, dict), f"not a record: {record!r}"
        return record


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


async def _read_all(settings: Settings, topic: str) -> list[Message]:
    from infra.kafka import TopicMissing, read_all

    try:
        records = await read_all(settings, [topic])
    except TopicMissing:
        raise AssertionError(f"topic {topic} does not exist") from None
    return [Message(r.topic, r.partition, r.key, r.value, dict(r.headers)) for r in records]


async def _produce(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from infra.kafka import producer

    out = producer(settings, "chirp-tests")
    await out.start()
    try:
        for key, value in messages:
            await out.send_and_wait(f"{settings.topic_prefix}{topic}", value, key=key)
    finally:
        await out.stop()


def produce_to(settings: Settings, topic: str, *messages: tuple[bytes, bytes]) -> None:
    """(key, value) pairs straight into a topic (`tweets`, `follows`...), past the API: poison, forged or
    skewed events for tests."""
    asyncio.run(_produce(settings, topic, list(messages)))


def produce_tweets(settings: Settings, *messages: tuple[bytes, bytes]) -> None:
    produce_to(settings, "tweets", *messages)


def read_topic(settings: Settings, name: str) -> list[Message]:
    """Every message in a topic, from the beginning up to its end offsets now."""
    from schemas.topics import by_name

    return asyncio.run(_read_all(settings, by_name(name).kafka_name(settings.topic_prefix)))


def decoded(settings: Settings, name: str) -> list[dict[str, Any]]:
    """Every event in a topic; poison a test wrote on purpose (no known schema) is left out."""
    dec = AvscDecoder()
    return [dec.decode(m.value) for m in read_topic(settings, name) if m.value[2:10] in dec.writers]


def register(api: TestClient, handle: str) -> tuple[str, dict[str, str]]:
    r = api.post("/users", json={"handle": handle, "display_name": handle.title()})
    assert r.status_code == 201, r.text
    return r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}


def chirp_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env, check=False,
    )  # fmt: skip


class WorkerProcess:
    """The real stream worker (`python -m streams`) as a child process, killable mid-run."""

    def __init__(self, settings: Settings, logdir: Path) -> None:
        self.settings = settings
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = (self.logdir / f"worker-{self.runs}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "streams"], cwd=REPO_ROOT,
                                     env=self.settings.child_env(), stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final offset commit."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        terminate(self.proc)

    def log_tail(self) -> str:
        text = (self.logdir / f"worker-{self.runs}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-40:])


class _Applied:
    """What the worker has surely applied per partition: the least of the progress it records after each batch
    and the offsets its consumer group committed (a fresh broker has no group coordinator for a while)."""

    def __init__(self, settings: Settings, progress: Any, admin: Any) -> None:
        self.settings, self.recorded, self.admin = settings, progress, admin
        self.last: dict[str, tuple[int, int]] = {}  # `topic:partition` -> (recorded, committed), for messages

    async def progress(self) -> dict[str, int]:
        try:
            offsets = await self.admin.list_consumer_group_offsets(self.settings.worker_group)
        except KafkaError:
            offsets = {}
        committed = {f"{tp.topic}:{tp.partition}": meta.offset for tp, meta in offsets.items()}
        done = await self.recorded.progress()
        self.last = {k: (done.get(k, 0), committed.get(k, 0)) for k in {*done, *committed}}
        return {k: min(pair) for k, pair in self.last.items()}


async def _wait_idle(settings: Settings, worker: WorkerProcess, deadline_s: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from infra import redisnodes
    from infra.kafka import end_offsets
    from projections.factory import progress_of
    from projections.stores.redis import CatchUpTimeout
    from projections.versions import VersionRegistry

    def alive() -> None:
        assert worker.proc is not None and worker.proc.poll() is None, "worker died:\n" + worker.log_tail()

    ends = await end_offsets(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    client = redisnodes.connect(settings)  # one Redis, or a Redis Cluster (make test-cluster)
    await admin.start()
    try:
        live = await VersionRegistry(client, settings.redis_prefix).live()
        applied = _Applied(settings, progress_of(settings, client, live), admin)
        try:
            await wait_caught_up(applied, ends, deadline_s, check=alive)
        except CatchUpTimeout as exc:
            behind = {k: (end, *applied.last.get(k, (0, 0))) for k, (end, _) in exc.behind.items()}
            raise AssertionError(f"worker behind (end, done, committed) {behind}:\n{worker.log_tail()}") from None
    finally:
        await admin.close()
        await client.aclose()


def wait_idle(settings: Settings, worker: WorkerProcess, deadline_s: float = 90) -> None:
    """Waits until the worker has processed every event in the log now, by offsets, not by time.

    Both marks must pass the end: the progress the worker records after each batch, and the offsets
    its consumer group commits (after a restart the worker re-applies events from the last commit).
    """
    asyncio.run(_wait_idle(settings, worker, deadline_s))


def timeline(
    api: TestClient, user: str, auth: dict[str, str], limit: int = 100, pages: int = 50
) -> list[dict[str, Any]]:
    """Every entry of a home timeline, following cursors."""
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(pages):
        params: dict[str, Any] = {"user_id": user, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = api.get("/timeline", headers=auth, params=params)
        assert r.status_code == 200, r.text
        out += r.json()["tweets"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    return out


class ApiProcess:
    """The real API (`python -m api`) on a free port, sharing the test settings; ready when constructed."""

    def __init__(
        self, settings: Settings, *, launcher: Sequence[str] = (), port: int = 0, ready: str = "", **env: str
    ) -> None:
        """`launcher`: a command to start it under (say, in a PID namespace of its own); `port`: the port to
        listen on (0: a free one); `ready`: what answers 200 once this process serves (its /readyz by default;
        processes sharing a port are told apart by their metrics endpoints)."""
        port = port or free_port()
        extra = {"CHIRP_API_PORT": str(port)}
        self.url = f"http://127.0.0.1:{port}"
        self.group = bool(launcher)  # a launcher (unshare) may ignore SIGTERM: signal the whole process group
        # its output goes to a file, never a pipe nobody reads while it runs (a full pipe would stall the API)
        self.log = tempfile.NamedTemporaryFile(prefix="chirp-api-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen([*launcher, sys.executable, "-m", "api"], cwd=REPO_ROOT,
                                     start_new_session=self.group, env={**settings.child_env(), **extra, **env},
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(ready or f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "API did not become ready:\n" + self.output()[-5_000:]
            time.sleep(0.1)

    def output(self) -> str:
        """Everything the process has printed so far (its log: a 500's traceback is there)."""
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> str:
        """SIGTERM; returns the output."""
        if self.group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
        else:
            self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        out = self.output()
        Path(self.log.name).unlink(missing_ok=True)
        return out


@contextlib.contextmanager
def local_redis_cluster(state_dir: Path, per_address: int) -> Iterator[Settings]:
    """A Redis Cluster of `per_address` nodes on each of 127.0.0.1-3 (one free port per round of addresses, the
    first round listed first: they become the primaries), started by the launcher and stopped after."""
    from infra.services import launcher

    ports: list[int] = []
    for port in iter(free_port, None):
        if port <= 55535 and port not in ports:  # a node's cluster bus listens 10,000 above its port
            ports.append(port)
        if len(ports) == per_address:
            break
    nodes = ",".join(f"127.0.0.{i}:{port}" for port in ports for i in (1, 2, 3))
    s = Settings(redis_cluster_nodes=nodes, redis_url=f"redis://127.0.0.1:{ports[0]}/0", state_dir=state_dir)
    try:
        launcher.up(s, "redis", report=print)
        yield s
    finally:
        launcher.down(s, "redis", report=print)


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Polls `condition` (a state a process or task reaches on its own, such as a view tracker's link) until it
    holds; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)
