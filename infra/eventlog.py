"""Appends events to Kafka and says so only once Kafka acknowledged them (acks=all).

The producer is idempotent, which in aiokafka means a batch that reached the accumulator is
retried until it lands, however long Kafka is away. A client told 503 must not see its write
appear later, so an append first checks that the partition leader is reachable and, if a send
still times out, the pending batches are failed and the producer is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition

from infra import kafka
from infra.settings import Settings
from schemas.codec import Codec
from schemas.events import Event
from schemas.topics import key_for, topic_for

log = logging.getLogger("chirp.eventlog")


class Position(NamedTuple):
    """Where Kafka put an event: its topic (with the prefix), partition and offset."""

    topic: str
    partition: int
    offset: int


class EventLogUnavailable(RuntimeError):
    """Kafka did not acknowledge the event; the caller must not report success. `maybe_written`: the event
    had been sent when the acknowledgement failed to come (a time-out, a broker gone mid-request), so the
    log may hold it after all; otherwise it certainly does not. The message is for logs (it may name
    internal addresses), never for clients."""

    def __init__(self, message: str, maybe_written: bool = False) -> None:
        super().__init__(message)
        self.maybe_written = maybe_written


class KafkaEventLog:
    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.codec = codec
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._timeout_s = settings.kafka_send_timeout_ms / 1000
        self._partitioner = DefaultPartitioner()  # the producer's own, so an append knows its partition first

    def _new_producer(self) -> AIOKafkaProducer:
        return kafka.producer(self.settings, "chirp-api", partitioner=self._partitioner)

    async def start(self) -> None:
        """Connects if Kafka answers; otherwise appends retry the connection and answer 503 meanwhile."""
        with contextlib.suppress(EventLogUnavailable):
            await self._ensure_producer()

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self._timeout_s)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = self._new_producer()
                try:
                    await asyncio.wait_for(producer.start(), self._timeout_s)
                except (KafkaError, OSError, TimeoutError) as exc:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(producer.stop(), 1)
                    raise EventLogUnavailable(f"cannot reach Kafka at {self.settings.kafka_bootstrap}") from exc
                self._producer = producer
        return self._producer

    async def append(self, event: Event) -> Position:
        """Appends the event and returns where it landed, once Kafka acknowledged it."""
        producer = await self._ensure_producer()
        topic = topic_for(event).kafka_name(self.settings.topic_prefix)
        key = key_for(event)
        value = self.codec.encode(event)
        headers = [("event_type", type(event).__name__.encode())]
        sent = False
        try:
            async with asyncio.timeout(self._timeout_s):  # one deadline for the whole append, and no task
                partition = await self._reachable_partition(producer, topic, key)
                sent = True
                meta = await producer.send_and_wait(topic, value, key=key, partition=partition, headers=headers)
        except (KafkaError, TimeoutError, OSError) as exc:
            if isinstance(exc, TimeoutError | KafkaTimeoutError):
                await self._discard(producer)
            raise EventLogUnavailable(
                f"Kafka did not acknowledge the event: {type(exc).__name__}", maybe_written=sent
            ) from exc
        return Position(meta.topic, meta.partition, meta.offset)

    async def _reachable_partition(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        """The key's partition, once its leader is connected: without I/O when metadata and connection are
        there already (the common case), else it waits for them under the caller's deadline."""
        partitions = await producer.partitions_for(topic)
        ordered = sorted(partitions)
        partition: int = self._partitioner(key, ordered, ordered)
        leader = producer.client.cluster.leader_for_partition(TopicPartition(topic, partition))
        if leader is None or leader == -1:
            raise EventLogUnavailable(f"partition {topic}/{partition} has no leader")
        if not await producer.client.ready(leader):
            raise EventLogUnavailable(f"Kafka broker {leader} (leader of {topic}/{partition}) is unreachable")
        return partition

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        """Drops what this producer still holds so that nothing reported as failed is sent later."""
        if self._producer is producer:
            self._producer = None
        kafka.fail_pending(producer, "discarded after a timed-out append")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 1)
        log.warning("Kafka append timed out; producer replaced")

    async def ready(self) -> bool:
        try:
            producer = await self._ensure_producer()
            return bool(await asyncio.wait_for(producer.client.fetch_all_metadata(), 3))
        except (EventLogUnavailable, KafkaError, TimeoutError, OSError):
            return False
