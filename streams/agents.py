"""What every agent does with a batch: decode, project (retrying transient store errors), send
poison to the dead-letter topic with its reason, and record how far it got.

Faust acknowledges a message whose handler raised (and a whole `take()` batch), so nothing may
escape this loop: a transient error is retried until it passes, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import faust
import redis.exceptions
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable

from infra.settings import Settings
from projections.model import BatchStats
from projections.projector import Projector, RuleViolation
from schemas.codec import DecodeError, default_codec
from schemas.events import TweetPosted
from schemas.topics import DEAD_LETTERS

log = logging.getLogger("chirp.worker")

TRANSIENT = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    OperationTimedOut,
    ReadTimeout,
    WriteTimeout,
    Unavailable,
    NoHostAvailable,
    TimeoutError,
    OSError,
)


def by_key(batch: list[faust.EventT[bytes]]) -> dict[bytes | None, list[faust.EventT[bytes]]]:
    """Events grouped by their partition key, each group in log order.

    Everything one event touches that another may also touch is keyed alike (an author's posts,
    edits, deletes and the follows of that author; a tweet's likes), so groups commute and run
    concurrently, while events that must stay in order do.
    """
    groups: dict[bytes | None, list[faust.EventT[bytes]]] = {}
    for event in batch:
        key = event.message.key
        groups.setdefault(key if isinstance(key, bytes) else None, []).append(event)
    return groups


class Worker:
    """Holds the wiring of the worker process; built once, connected on first use."""

    def __init__(self, settings: Settings, app: faust.App) -> None:
        self.settings = settings
        self.app = app
        self.codec = default_codec()
        self.projector: Projector | None = None
        self.timelines: Any = None
        self._lock = asyncio.Lock()
        self._lanes = asyncio.Semaphore(settings.worker_lanes)

    async def connect(self) -> Projector:
        async with self._lock:
            if self.projector is None:
                from streams.wiring import connect

                self.projector, self.timelines = await connect(self.settings)
        return self.projector

    async def consume(self, stream: faust.StreamT[bytes]) -> None:
        projector = await self.connect()
        batch_wait = self.settings.worker_batch_wait_ms / 1000
        batches = stream.take_events(self.settings.worker_batch, within=batch_wait)  # type: ignore[attr-defined]
        async for batch in batches:
            stats = BatchStats()
            await asyncio.gather(*(self._in_order(projector, events, stats) for events in by_key(batch).values()))
            for event in batch:
                msg = event.message
                stats.progress[f"{msg.topic}:{msg.partition}"] = msg.offset + 1
            await self._retry(lambda s=stats: self.timelines.record_progress(s), "record progress")

    async def _in_order(self, projector: Projector, events: list[faust.EventT[bytes]], stats: BatchStats) -> None:
        async with self._lanes:
            for event in events:
                await self.handle(projector, event, stats)

    async def handle(self, projector: Projector, event: faust.EventT[bytes], stats: BatchStats) -> None:
        msg = event.message
        try:
            decoded = self.codec.decode(msg.value or b"")
        except DecodeError as exc:
            await self.dead_letter(msg, f"undecodable: {exc}")
            return
        try:
            delivered = await self._retry(lambda: projector.apply(decoded), type(decoded).__name__)
            stats.events += 1
            stats.deliveries += delivered
            if isinstance(decoded, TweetPosted):  # event time to the end of its fan-out write
                stats.delays_ms.append((datetime.now(UTC) - decoded.meta.occurred_at).total_seconds() * 1000)
        except RuleViolation as exc:
            await self.dead_letter(msg, f"rule: {exc}")
        except Exception as exc:  # a bug or an unexpected store answer: park it, keep the partition moving
            log.exception("unexpected error on %s:%d@%d", msg.topic, msg.partition, msg.offset)
            await self.dead_letter(msg, f"error: {type(exc).__name__}: {exc}")

    async def _retry(self, op: Any, what: str) -> Any:
        delay = 0.05
        while True:
            try:
                return await op()
            except TRANSIENT as exc:
                log.warning("%s failed (%s: %s); retrying in %.2fs", what, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

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
