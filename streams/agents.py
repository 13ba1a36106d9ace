"""What every agent does with a batch: decode, project it as one unit of work (retrying transient
store errors), send poison and refused events to the dead-letter topic with the reason, and record
how far it got.

Faust acknowledges a message whose handler raised (and a whole `take()` batch), so nothing may
escape this loop: a transient error is retried until it passes, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP

from infra.faults import is_transient
from infra.settings import Settings
from projections.logclock import log_stamp
from projections.model import BatchStats
from projections.projector import Outcome, Projector
from projections.stores.keys import worker_degraded
from projections.versions import Pass, gaps, passes
from schemas.codec import DecodeError, default_codec
from schemas.events import Event, TweetPosted
from schemas.topics import DEAD_LETTERS
from streams import metrics
from streams.align import Aligner
from streams.wiring import Stores

log = logging.getLogger("chirp.worker")
VERSIONS_TTL_S = 1.0


@dataclass(frozen=True)
class Record:
    """A message read again from Kafka to catch a version up (the fields `project` uses)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds, as Faust's messages have it: when the partition leader appended it


@dataclass(frozen=True, slots=True)
class Fetched:
    """A record with its event decoded once, as it arrives (`error` says why it could not be).

    `timestamp` is what the aligner (streams/align.py) orders partitions by: the event's own time. The log's
    time cannot order a backlog: the topics stamp records with LogAppendTime, one stamp for a whole producer
    batch, so a bulk load's thousands of records share a handful of stamps per partition. The log's time
    still stamps the durable writes (`stamp_of(fetched.message)`)."""

    message: Any
    event: Event | None
    error: str = ""

    @property
    def topic(self) -> str:
        return str(self.message.topic)

    @property
    def partition(self) -> int:
        return int(self.message.partition)

    @property
    def offset(self) -> int:
        return int(self.message.offset)

    @property
    def timestamp(self) -> float:
        if self.event is None:
            return float(self.message.timestamp)
        return self.event.meta.occurred_at.timestamp()


def stamp_of(msg: Any) -> int:
    """The durable write timestamp of a message: its place in the log (projections/logclock.py)."""
    return log_stamp(round(msg.timestamp * 1000), msg.offset)


class Worker:
    """Holds the wiring of the worker process; built once, connected on first use."""

    def __init__(self, settings: Settings, app: faust.App) -> None:
        self.settings = settings
        self.app = app
        self.codec = default_codec()
        self.stores: Stores | None = None
        self._lock = asyncio.Lock()
        self._passes_at: tuple[float, list[Pass]] = (0.0, [])
        self.lag = metrics.ConsumerLag()
        self.aligners: dict[str, Aligner] = {}
        self._agent_locks: dict[str, asyncio.Lock] = {}
        self._generations: dict[str, int] = {}

    async def connect(self) -> Stores:
        async with self._lock:
            if self.stores is None:
                from streams.wiring import connect

                metrics.serve(self.settings.worker_metrics_port)
                self.stores = await connect(self.settings)
        return self.stores

    async def consume(self, stream: faust.StreamT[bytes], agent: str) -> None:
        """The loop of one agent (`agent` labels its metrics)."""
        metrics.AGENT.set(agent)
        stores = await self.connect()
        batch_wait = self.settings.worker_batch_wait_ms / 1000
        self.aligners[agent] = Aligner(self.settings.worker_align_max, self.settings.worker_align_ms / 1000)
        self._agent_locks[agent] = asyncio.Lock()
        batches = stream.take_events(self.settings.worker_batch, within=batch_wait)  # type: ignore[attr-defined]
        async for batch in batches:
            await self.release(stores, agent, [self.fetched(e.message) for e in batch])

    def fetched(self, msg: Any) -> Fetched:
        try:
            return Fetched(msg, self.codec.decode(msg.value or b""))
        except DecodeError as exc:
            return Fetched(msg, None, str(exc))

    async def release_overdue(self) -> None:
        """Projects what the agents held for a partition that went silent (a timer: no new batch may come)."""
        if self.stores is None:
            return
        for agent, aligner in list(self.aligners.items()):
            if aligner.held:
                await self.release(self.stores, agent, [])

    async def release(self, stores: Stores, agent: str, records: list[Fetched]) -> None:
        """Adds a batch to the agent's aligner and projects, batch by batch, what it releases."""
        async with self._agent_locks[agent]:
            aligner = self.aligners[agent]
            generation = self.app.consumer_generation_id
            if self._generations.get(agent) != generation:  # partitions moved: keep what is still ours
                aligner.retain((tp.topic, tp.partition) for tp in self.app.consumer.assignment())
                self._generations[agent] = generation
            aligner.add(records)
            released = aligner.release(self._backlog)
            held = aligner.first_held()
            metrics.HELD.labels(agent).set(aligner.held)
            size = self.settings.worker_batch
            for i in range(0, len(released) or (1 if held else 0), size):
                started = time.perf_counter()
                for p in await self._passes(stores):
                    await self._apply(stores, p, released[i : i + size], held)
                metrics.BATCH.labels(agent).observe(time.perf_counter() - started)
            self.lag.update(self.app.consumer)

    def _backlog(self, partition: tuple[str, int], next_offset: int) -> int:
        """Records a partition still has past `next_offset`, by its consumer's last fetch (0 if unknown)."""
        high = metrics.highwater(self.app.consumer, TP(*partition))
        return 0 if high is None else max(high - next_offset, 0)

    async def _passes(self, stores: Stores) -> list[Pass]:
        """The versions to write, re-read at most once a second (a promote is seen within a second)."""
        at, found = self._passes_at
        if time.monotonic() - at > VERSIONS_TTL_S or not found:
            found = passes(await self._retry(stores.registry.all, "read versions"))
            self._passes_at = (time.monotonic(), found)
        return found

    async def _apply(self, stores: Stores, p: Pass, messages: list[Fetched], held: dict[tuple[str, int], int]) -> None:
        """One version's share of a batch: what its progress says it lacks, gaps first, then the batch.

        `held` has the first offset of each partition's held-back records: a partition with no progress yet
        gets that as its progress, so held records lost with the process are caught up from the log."""
        primary = p.primary
        projector, timelines = await self._retry(lambda: stores.projector(p), "connect the stores")
        progress = await self._retry(timelines.progress, "read progress")
        for topic, partition, start, end in gaps(messages, progress):
            log.info("catching %s up on %s:%d from %d to %d", p.version.name, topic, partition, start, end)
            await self._catch_up(projector, timelines, topic, partition, start, end, primary)
        todo = [m for m in messages if m.offset >= progress.get(f"{m.topic}:{m.partition}", 0)]
        stats = BatchStats()
        await self.project(projector, todo, stats, dead_letters=primary)
        for msg in messages:
            stats.progress[f"{msg.topic}:{msg.partition}"] = msg.offset + 1
        for (topic, partition), offset in held.items():
            key = f"{topic}:{partition}"
            if key not in progress and key not in stats.progress:
                stats.progress[key] = offset
        if not stats.progress:
            return
        await self._retry(lambda: timelines.record_progress(stats), "record progress")
        if primary:
            self.lag.advance({**progress, **stats.progress})

    async def _catch_up(
        self, projector: Projector, timelines: Any, topic: str, partition: int, start: int, end: int, primary: bool
    ) -> None:
        from streams.replay import read_range

        async for chunk in read_range(self.settings, topic, partition, start, end):
            stats = BatchStats()
            records = [self.fetched(Record(topic, partition, o, key, value, ts / 1000)) for o, key, value, ts in chunk]
            await self.project(projector, records, stats, dead_letters=primary)
            stats.progress[f"{topic}:{partition}"] = records[-1].offset + 1
            await self._retry(lambda s=stats: timelines.record_progress(s), "record progress")

    async def project(
        self, projector: Projector, fetched: list[Fetched], stats: BatchStats, dead_letters: bool
    ) -> None:
        """Projects a batch as one unit of work; poison and refused events go to dead letters (from the live
        version's pass only: the other versions see the same events and would repeat them)."""
        decoded: list[tuple[Any, Event]] = []
        for f in fetched:
            if f.event is not None:
                decoded.append((f.message, f.event))
            elif dead_letters:
                await self.dead_letter(f.message, f"undecodable: {f.error}")
        if not decoded:
            return
        events = [e for _, e in decoded]
        stamps = [stamp_of(m) for m, _ in decoded]
        failed: dict[int, str] = {}
        try:
            outcome = await self._retry(lambda: projector.apply_batch(events, stamps), f"batch of {len(events)}")
        except Exception:  # one event breaks the batch: apply them one by one to find it
            log.exception("batch of %d failed; applying its events one at a time", len(events))
            outcome = await self._one_by_one(projector, decoded, failed)
        failed.update({i: f"rule: {reason}" for i, reason in outcome.violations.items()})
        for i, reason in sorted(failed.items()) if dead_letters else ():
            await self.dead_letter(decoded[i][0], reason)
        refused = failed.keys()
        stats.events += len(events) - len(refused)
        stats.deliveries += outcome.deliveries
        now = outcome.visible_at or datetime.now(UTC)
        delays_ms = [
            (now - e.meta.occurred_at).total_seconds() * 1000  # event time to the end of its fan-out write
            for i, e in enumerate(events)
            if isinstance(e, TweetPosted) and i not in refused
        ]
        stats.delays_ms += delays_ms
        if dead_letters:  # the live version's pass: counted once, however many versions are written
            projected = (m.topic for i, (m, _) in enumerate(decoded) if i not in refused)
            metrics.record_projected(projected, outcome.deliveries, delays_ms)

    async def _one_by_one(
        self, projector: Projector, decoded: list[tuple[Any, Event]], failed: dict[int, str]
    ) -> Outcome:
        """The slow path: each event alone, so the one that breaks (recorded in `failed`) is found."""
        total = Outcome()
        for i, (msg, event) in enumerate(decoded):
            try:
                one = await self._retry(
                    lambda e=event, m=msg: projector.apply_batch([e], [stamp_of(m)]), type(event).__name__
                )
            except Exception as exc:  # a bug or an unexpected store answer: park it, keep the partition moving
                log.exception("unexpected error on %s:%d@%d", msg.topic, msg.partition, msg.offset)
                failed[i] = f"error: {type(exc).__name__}: {exc}"
                continue
            total.deliveries += one.deliveries
            total.visible_at = one.visible_at or total.visible_at
            if one.violations:
                total.violations[i] = one.violations[0]
        return total

    async def _retry(self, op: Any, what: str) -> Any:
        """Runs `op` until it succeeds while it fails for the infrastructure's reasons (infra/faults.py):
        the partition waits, reported as degraded, and nothing is skipped. Other errors propagate."""
        delay = 0.05
        degraded = False
        try:
            while True:
                try:
                    return await op()
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    if not degraded:
                        degraded = True
                        metrics.DEGRADED.inc()
                    metrics.RETRIES.labels(type(exc).__name__).inc()
                    log.warning("%s failed (%s: %s); retrying in %.2fs", what, type(exc).__name__, exc, delay)
                    await self._report_degraded(f"{what}: {type(exc).__name__}")
                    await asyncio.sleep(delay)
                    await self._relearn()
                    delay = min(delay * 2, 5.0)
        finally:
            if degraded:
                metrics.DEGRADED.dec()

    async def _relearn(self) -> None:
        """Best effort, before a retry: a Redis Cluster's slot owners asked again (a failover moved some), so the
        retry's per-node pipelines go to the node that serves them now. Nothing on one Redis."""
        if self.stores is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.stores.factory.nodes.refresh(), 2)

    async def _report_degraded(self, cause: str) -> None:
        """Best effort: when Redis is what fails, /readyz says so itself."""
        if self.stores is None:
            return
        with contextlib.suppress(Exception):
            key = worker_degraded(self.settings.redis_prefix)
            await asyncio.wait_for(self.stores.factory.redis.set(key, cause[:200], px=5000), 0.5)

    async def dead_letter(self, msg: Any, reason: str) -> None:
        log.warning("dead-lettering %s:%d@%d: %s", msg.topic, msg.partition, msg.offset, reason)
        headers = [
            ("reason", reason.encode()[:4000]),
            ("origin_topic", msg.topic.encode()),
            ("origin_partition", str(msg.partition).encode()),
            ("origin_offset", str(msg.offset).encode()),
            ("failed_at", str(time.time()).encode()),
        ]
        name = DEAD_LETTERS.kafka_name(self.settings.topic_prefix)

        async def send() -> None:
            await self.app.producer.send_and_wait(name, msg.key, msg.value, None, None, headers)

        await self._retry(send, "dead-letter")
        metrics.record_dead_letter(msg.topic)
