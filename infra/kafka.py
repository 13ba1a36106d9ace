"""Kafka clients, configured in one place: the producer every writer uses, partition metadata and end offsets
through aiokafka's public API, and the one bounded reader every reader of the log uses.

A bounded reader fixes, when it starts, where each partition starts (the beginning, the end, the first message
at or after a time, given offsets, and where a consumer group last committed) and where it ends (the end
offsets then, or given offsets), and yields what lies between, batch by batch, however fast the topics grow
meanwhile. It can also keep following past the ends until told to stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from infra.settings import Settings
from schemas.topics import EVENT_TOPICS, Topic

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Offsets: TypeAlias = dict[TopicPartition, int]
Start: TypeAlias = Literal["beginning", "end"] | datetime | Mapping[TopicPartition, int]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RECORDS = 5_000  # per fetch: with Kafka's per-partition fetch limit, what bounds a batch's memory
METADATA_WAIT_S = 30.0  # how long a topic may have partitions without leaders (just created) before giving up


class TopicMissing(UnknownTopicOrPartitionError):  # type: ignore[misc]  # aiokafka.errors is untyped
    """A topic to read does not exist (auto-creation is off: `chirp migrate` creates topics)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist")
        self.topic = topic


# --- clients ------------------------------------------------------------------------------------


def security(settings: Settings) -> dict[str, Any]:
    """The aiokafka arguments for TLS and SASL, shared by every client chirp makes (producers, consumers,
    admin clients; Faust gets the same through streams/app.py)."""
    config: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        config["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_security_protocol.startswith("SASL"):
        config |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password,
        }
    return config


def admin_client(settings: Settings, **overrides: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **(security(settings) | overrides))


def producer(settings: Settings, client_id: str = "chirp", **overrides: Any) -> AIOKafkaProducer:
    """The producer configuration every writer shares: acknowledged by all in-sync replicas, idempotent (a
    retried batch is never written twice), sent promptly; `overrides` for bulk loading (batching, compression)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 1,
        "request_timeout_ms": settings.kafka_send_timeout_ms,
        "metadata_max_age_ms": 30_000,
        "client_id": client_id,
    }
    return AIOKafkaProducer(**(config | security(settings) | overrides))


def fail_pending(producer: AIOKafkaProducer, reason: str) -> None:
    """Fails every batch the producer still holds, so that nothing reported as failed is sent later.

    aiokafka has no public call for this (`stop()` waits for them to be delivered, however long Kafka is
    away, and an idempotent producer retries them until they are), so this is the one place that reaches
    past its public API, into the producer's message accumulator.
    """
    producer._message_accumulator.fail_all(KafkaTimeoutError(reason))


def consumer(settings: Settings, client_id: str = "chirp-reader", **overrides: Any) -> AIOKafkaConsumer:
    """A consumer that commits only when told (a reader's commits are explicit, if any)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "client_id": client_id,
    }
    return AIOKafkaConsumer(**(config | security(settings) | overrides))


async def partitions(settings: Settings, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the topics, in topic then partition order; TopicMissing for a topic that is not there.
    Partitions without a leader yet (a topic just created) are waited for, up to METADATA_WAIT_S."""
    admin = admin_client(settings, client_id="chirp-metadata")
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + METADATA_WAIT_S
        while True:
            described = {d["topic"]: d for d in await admin.describe_topics(list(topics))}
            for name in topics:
                if described[name]["error_code"] == UnknownTopicOrPartitionError.errno:
                    raise TopicMissing(name)
            if all(described[n]["error_code"] == 0 and described[n]["partitions"] for n in topics):
                return [
                    TopicPartition(name, p)
                    for name in topics
                    for p in sorted(part["partition"] for part in described[name]["partitions"])
                ]
            if asyncio.get_running_loop().time() > deadline:
                raise KafkaTimeoutError(f"no partition metadata for {', '.join(topics)} in {METADATA_WAIT_S:.0f}s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def end_offsets(settings: Settings, topics: Sequence[Topic] = EVENT_TOPICS) -> dict[str, int]:
    """`topic:partition` -> the offset the next event will get, for every event topic (or those given):
    what "the worker is idle" is measured against."""
    parts = await partitions(settings, [t.kafka_name(settings.topic_prefix) for t in topics])
    c = consumer(settings)
    await c.start()
    try:
        return {f"{tp.topic}:{tp.partition}": off for tp, off in (await c.end_offsets(parts)).items()}
    finally:
        await c.stop()


def epoch_ms(when: datetime) -> int:
    """Kafka's time unit, rounded down (never too late); a time without a zone is UTC."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0, (aware - EPOCH) // timedelta(milliseconds=1))


# --- the bounded reader -------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """One partition's offsets to read: from `start` up to `end` (exclusive, fixed when reading began)."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)


class BoundedReader:
    """`async with BoundedReader(settings, topics, start) as r: await r.plan(); async for batch in r.batches()`.

    `start`: "beginning", "end", a time (the first message stamped at or after it; the end if none is), or
    offsets per partition. `until`: offsets per partition to stop at, instead of the end offsets at `plan()`.
    `group`: partitions the group committed start from its commit instead, and each batch is committed once
    the caller asks for the next one (it is done with it), so an interrupted read resumes after it; or, with
    `batches(commit=False)`, when the caller says so (`commit`): one that works on a batch while it reads the
    next.
    Without a group nothing is committed and no group is disturbed.
    """

    def __init__(
        self,
        settings: Settings,
        topics: Sequence[str],
        start: Start = "beginning",
        *,
        until: Mapping[TopicPartition, int] | None = None,
        group: str | None = None,
        client_id: str = "chirp-reader",
        poll_ms: int = 1000,
        max_records: int = MAX_RECORDS,
        **consumer_config: Any,
    ) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.start = start
        self.until = until
        self.group = group
        self.poll_ms = poll_ms
        self.max_records = max_records
        self.consumer = consumer(settings, client_id, group_id=group, **consumer_config)
        self.spans: list[Span] = []

    async def __aenter__(self) -> BoundedReader:
        await self.consumer.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.consumer.stop()

    @property
    def total(self) -> int:
        """How many offsets the planned spans hold (a progress bar's total)."""
        return sum(s.count for s in self.spans)

    @property
    def ends(self) -> Offsets:
        """Where each partition's reading ends (fixed by `plan()`)."""
        return {s.tp: s.end for s in self.spans}

    async def plan(self) -> list[Span]:
        """Fixes where each partition starts and ends, and positions the consumer there."""
        parts = list(self.until) if self.until is not None else await partitions(self.settings, self.topics)
        ends = dict(self.until) if self.until is not None else await self.consumer.end_offsets(parts)
        starts = await self._starts(parts, ends)
        if self.group is not None:
            for tp in parts:
                if committed := await self.consumer.committed(tp):  # 0: the group read nothing there yet
                    starts[tp] = committed
        self.consumer.assign(parts)
        for tp in parts:
            self.consumer.seek(tp, starts[tp])
        self.spans = [Span(tp.topic, tp.partition, starts[tp], ends[tp]) for tp in parts]
        return self.spans

    async def _starts(self, parts: list[TopicPartition], ends: Offsets) -> Offsets:
        if self.start == "end":
            return dict(ends)
        if self.start == "beginning":
            return dict(await self.consumer.beginning_offsets(parts))
        if isinstance(self.start, datetime):
            found = await self.consumer.offsets_for_times(dict.fromkeys(parts, epoch_ms(self.start)))
            return {tp: ends[tp] if (hit := found.get(tp)) is None else hit.offset for tp in parts}
        return {tp: self.start[tp] for tp in parts}

    async def batches(
        self, follow: bool = False, stop: asyncio.Event | None = None, commit: bool = True
    ) -> AsyncIterator[list[Record]]:
        """The records of one fetch at a time, grouped by partition and in offset order per partition, up to
        the planned ends; following, past them too until `stop` is set. Plans first if `plan()` was not called.
        `commit=False`: batches are committed only by `commit`."""
        if not self.spans:
            await self.plan()
        ends = self.ends
        pending = {s.tp for s in self.spans if follow or s.count > 0}
        self.consumer.pause(*(set(ends) - pending))
        while pending and not (stop is not None and stop.is_set()):
            fetched = await self.consumer.getmany(*pending, timeout_ms=self.poll_ms, max_records=self.max_records)
            batch: list[Record] = []
            reached: Offsets = {}
            for tp, records in fetched.items():
                wanted = records if follow else [r for r in records if r.offset < ends[tp]]
                if wanted:
                    batch += wanted
                    reached[tp] = wanted[-1].offset + 1
            if batch:
                yield batch
                if self.group is not None and commit:
                    await self.consumer.commit(reached)
            if not follow:
                for tp in list(pending):
                    if await self.consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                        self.consumer.pause(tp)

    async def commit(self, batch: Sequence[Record]) -> None:
        """The group's commit past `batch` (from `batches(commit=False)`), once the caller is done with it."""
        reached: Offsets = {}
        for r in batch:
            tp = TopicPartition(r.topic, r.partition)
            reached[tp] = max(reached.get(tp, 0), r.offset + 1)
        if self.group is not None and reached:
            await self.consumer.commit(reached)


async def read_all(settings: Settings, topics: Sequence[str], **reader_config: Any) -> list[Record]:
    """Every record of the topics from their beginning up to their end offsets now, in log order per partition."""
    out: list[Record] = []
    async with BoundedReader(settings, topics, **reader_config) as reader:
        async for batch in reader.batches():
            out += batch
    return out
