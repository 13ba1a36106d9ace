"""Reads one topic between offsets fixed when reading starts: what tap and export share.

The end offsets are taken once, at the start, so a reader that does not follow stops at a well-defined
point however fast the topic grows; with `follow` it keeps reading until told to stop. No consumer group:
an analyst's read commits nothing and never disturbs the worker's group.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Literal, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from infra.settings import Settings
from ops.analyst import AnalystError
from schemas.topics import Topic

Start = Literal["beginning", "end"] | datetime
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Record: TypeAlias = ConsumerRecord[bytes, bytes]
POLL_MS = 200  # how long one fetch waits; bounds how soon a stop request is noticed
MAX_RECORDS = 5_000  # per fetch call: with Kafka's per-partition fetch limit, what bounds memory


@dataclass(frozen=True)
class Span:
    """One partition's offsets to read: from `start` up to `end` (exclusive, the end when reading began)."""

    partition: int
    start: int
    end: int

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)


class TopicReader:
    """`async with TopicReader(...) as r: await r.plan(...); async for records in r.batches(...)`."""

    def __init__(self, settings: Settings, topic: Topic) -> None:
        self.name = topic.kafka_name(settings.topic_prefix)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="chirp-analyst",
            max_partition_fetch_bytes=1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        self.spans: list[Span] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.consumer.stop()

    async def plan(self, start: Start) -> list[Span]:
        """Fixes where each partition starts and ends, and positions the consumer there."""
        parts = await self._partitions()
        ends = await self.consumer.end_offsets(parts)
        if start == "end":
            starts = ends
        elif start == "beginning":
            starts = await self.consumer.beginning_offsets(parts)
        else:
            starts = await self._offsets_at(parts, start, ends)
        self.consumer.assign(parts)
        for tp in parts:
            self.consumer.seek(tp, starts[tp])
        self.spans = [Span(tp.partition, starts[tp], ends[tp]) for tp in parts]
        return self.spans

    async def _partitions(self) -> list[TopicPartition]:
        if self.name not in await self.consumer.topics():
            raise AnalystError(
                f"topic {self.name} does not exist (is CHIRP_TOPIC_PREFIX right? `chirp migrate` creates topics)"
            )
        await self.consumer._client._wait_on_metadata(self.name)  # as infra/offsets.py: fills partitions_for_topic
        return [TopicPartition(self.name, p) for p in sorted(self.consumer.partitions_for_topic(self.name) or ())]

    async def _offsets_at(
        self, parts: list[TopicPartition], when: datetime, ends: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Kafka's time index: the first offset stamped at or after `when` (the end if there is none)."""
        ms = max(0, (when - EPOCH) // timedelta(milliseconds=1))  # Kafka's unit, rounded down: never too late
        found = await self.consumer.offsets_for_times(dict.fromkeys(parts, ms))
        return {tp: ends[tp] if found[tp] is None else found[tp].offset for tp in parts}

    async def batches(self, follow: bool, stop: asyncio.Event) -> AsyncIterator[list[Record]]:
        """Records of one partition at a time, in offset order, up to the planned ends (or, following,
        until `stop` is set)."""
        ends = {TopicPartition(self.name, s.partition): s.end for s in self.spans}
        pending = {TopicPartition(self.name, s.partition) for s in self.spans if follow or s.count > 0}
        self.consumer.pause(*(set(ends) - pending))
        while pending and not stop.is_set():
            fetched = await self.consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
            for tp, records in fetched.items():
                wanted = records if follow else [r for r in records if r.offset < ends[tp]]
                if wanted:
                    yield wanted
            if not follow:
                await self._drop_finished(pending, ends)

    async def _drop_finished(self, pending: set[TopicPartition], ends: dict[TopicPartition, int]) -> None:
        for tp in list(pending):
            if await self.consumer.position(tp) >= ends[tp]:
                pending.discard(tp)
                self.consumer.pause(tp)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM end the read loop at its next poll instead of raising mid-write."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
