"""Rebuilding read models from the event log, in bulk, into a version's own locations: a Redis prefix for
timelines, a Cassandra keyspace for the durable projections, or both.

The live worker applies events one batch at a time and fans every tweet out; a rebuild has the
whole log ahead of it and nobody reading its output yet, so it does less: it records tweets in the
authors' recent lists, the follow graph, likes, replies and the hydration cache (fan-out off), then
materializes the home timelines of the users that should have one (the warm phase) from those lists,
the same way a returning user's timeline is rebuilt on read. The durable projections are rebuilt by the
same projector, writing a fresh keyspace. Events at or past the end offsets taken at the start are left
for whoever continues from there (the worker, fan-out on).

Offsets are committed under the rebuild's own consumer group after each batch, so an interrupted
rebuild resumes where it stopped; every write is idempotent, so re-applying a batch is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aiokafka import TopicPartition
from tqdm import tqdm

from infra import cassandra, redisnodes
from infra.kafka import BoundedReader, Offsets
from infra.kafka import Record as KafkaRecord
from infra.settings import Settings
from projections.factory import StoreFactory, Writes
from projections.logclock import log_stamp
from projections.model import BatchStats
from projections.projector import Projector
from projections.stores.redis import RedisTimelines
from projections.versions import Version
from schemas.codec import DecodeError, default_codec
from schemas.events import Event
from schemas.topics import EVENT_TOPICS

log = logging.getLogger("chirp.replay")

Rebuilt = Literal["timelines", "projections", "all"]
WARM_CHUNK = 100


@dataclass(frozen=True)
class RebuildResult:
    events: int
    skipped: int  # undecodable or refused by a rule (the live worker dead-lettered them)
    seconds: float
    timelines: int
    warm_seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def rebuild(
    settings: Settings,
    version: Version,
    what: Rebuilt,
    group: str,
    warm: Callable[[], Sequence[int]] | None = None,
    show: bool = True,
    since: datetime | None = None,
) -> RebuildResult:
    """Replays every event topic from the start (`since`: the first offset at or after that time; or the
    group's last commit) up to the end offsets now, into the version's locations `what` names; then, for
    timelines, materializes those of the users `warm()` names."""
    s = settings
    nodes = await redisnodes.open_nodes(s, socket_timeout=30)
    keyspace = version.keyspace_in(s.keyspace)
    cluster, session = cassandra.connect(s, keyspace)
    with_timelines, with_durable = what in ("timelines", "all"), what in ("projections", "all")
    factory = StoreFactory(s, nodes, cluster, {keyspace: session})
    try:
        stores = await factory.version(version, Writes(timelines=with_timelines, durable=with_durable, fan_out=False))
        t0 = time.monotonic()
        events, skipped, ends = await _replay(settings, group, stores.projector, show, since)
        await stores.progress.record_progress(
            BatchStats(progress={f"{tp.topic}:{tp.partition}": n for tp, n in ends.items()})
        )
        t1 = time.monotonic()
        users = list(warm()) if warm and with_timelines else []
        built = await _warm(stores.timelines.with_push(), users, show)
        return RebuildResult(events, skipped, t1 - t0, built, time.monotonic() - t1)
    finally:
        await nodes.aclose()
        cluster.shutdown()


async def _replay(
    settings: Settings, group: str, projector: Projector, show: bool, since: datetime | None
) -> tuple[int, int, Offsets]:
    """Applies everything below the end offsets now; returns (events, skipped, those end offsets).

    Batches apply one after another, each committed once applied; the next batch is read and decoded while
    Redis works on the one before (decoding is most of this process's work, the writes most of Redis's)."""
    codec = default_codec()
    decoded_n = undecodable = refused = 0
    reader = LogReader(settings, group, show, since=since)
    applying: asyncio.Task[int] | None = None

    async def apply(batch: list[KafkaRecord], decoded: list[Event], stamps: list[int]) -> int:
        outcome = await projector.apply_batch(decoded, stamps)
        await reader.commit(batch)
        return len(outcome.violations)

    try:
        async for batch in reader.batches(commit=False):
            decoded: list[Event] = []
            stamps: list[int] = []
            for record in batch:
                try:
                    decoded.append(codec.decode(record.value or b""))
                except DecodeError:
                    undecodable += 1
                    continue
                stamps.append(log_stamp(record.timestamp, record.offset))
            if applying is not None:
                refused += await applying
            applying = asyncio.create_task(apply(batch, decoded, stamps))
            decoded_n += len(decoded)
        if applying is not None:
            refused += await applying
            applying = None
    finally:
        if applying is not None:  # an error elsewhere: the batch in flight is left for the retry (not committed)
            applying.cancel()
            await asyncio.gather(applying, return_exceptions=True)
    return decoded_n - refused, undecodable + refused, reader.ends


class LogReader:
    """Every event topic, from the start (or a consumer group's last commit) up to the end offsets taken when
    reading starts. With a group, each batch is committed once the caller asks for the next one (it is done)."""

    def __init__(
        self,
        settings: Settings,
        group: str | None = None,
        show: bool = True,
        desc: str = "replay",
        since: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.group = group
        self.show = show
        self.desc = desc
        self.since = since
        self.ends: Offsets = {}
        self._reader: BoundedReader | None = None

    async def batches(self, commit: bool = True) -> AsyncIterator[list[KafkaRecord]]:
        """`commit=False`: a batch is committed by `commit` (BoundedReader.batches)."""
        topics = [t.kafka_name(self.settings.topic_prefix) for t in EVENT_TOPICS]
        reader = BoundedReader(
            self.settings,
            topics,
            "beginning" if self.since is None else self.since,
            group=self.group,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        async with reader:
            self._reader = reader
            await reader.plan()
            self.ends = {tp: end for tp, end in reader.ends.items() if end > 0}
            with tqdm(
                total=reader.total, desc=self.desc, unit="ev", unit_scale=True, disable=not self.show, mininterval=1
            ) as bar:
                async for batch in reader.batches(commit=commit):
                    yield batch
                    bar.update(len(batch))

    async def commit(self, batch: Sequence[KafkaRecord]) -> None:
        """The group's commit past `batch`, which the caller is done with (read with `commit=False`)."""
        if self._reader is not None:
            await self._reader.commit(batch)


async def _warm(timelines: RedisTimelines, users: Sequence[int], show: bool) -> int:
    """Materializes home timelines from the authors' lists, a chunk of users per round trip."""
    built = 0
    with tqdm(total=len(users), desc="timelines", unit="tl", disable=not show or not users, mininterval=1) as bar:
        for i in range(0, len(users), WARM_CHUNK):
            chunk = users[i : i + WARM_CHUNK]
            built += await timelines.rebuild_many(chunk)
            bar.update(len(chunk))
    return built


async def read_range(
    settings: Settings, topic: str, partition: int, start: int, end: int
) -> AsyncIterator[list[tuple[int, bytes | None, bytes | None, int]]]:
    """(offset, key, value, append time in ms) of one partition's messages in [start, end), in chunks; no
    consumer group."""
    tp = TopicPartition(topic, partition)
    async with BoundedReader(settings, [topic], {tp: start}, until={tp: end}) as reader:
        async for batch in reader.batches():
            yield [(r.offset, r.key, r.value, r.timestamp) for r in batch]
