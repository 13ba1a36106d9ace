"""Reads one topic between offsets fixed when reading starts: what tap and export share.

The end offsets are taken once, at the start, so a reader that does not follow stops at a well-defined
point however fast the topic grows; with `follow` it keeps reading until told to stop. No consumer group:
an analyst's read commits nothing and never disturbs the worker's group.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import AsyncIterator, Iterator
from types import TracebackType

from infra.kafka import BoundedReader, Record, Span, Start, TopicMissing
from infra.settings import Settings
from ops.analyst import AnalystError
from schemas.topics import Topic

__all__ = ["Record", "Span", "Start", "TopicReader", "stop_on_signals"]

POLL_MS = 200  # how long one fetch waits; bounds how soon a stop request is noticed


class TopicReader:
    """`async with TopicReader(...) as r: await r.plan(...); async for records in r.batches(...)`."""

    def __init__(self, settings: Settings, topic: Topic) -> None:
        self.name = topic.kafka_name(settings.topic_prefix)
        self.reader = BoundedReader(
            settings,
            [self.name],
            client_id="chirp-analyst",
            poll_ms=POLL_MS,
            max_partition_fetch_bytes=1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )

    @property
    def spans(self) -> list[Span]:
        return self.reader.spans

    async def __aenter__(self) -> TopicReader:
        await self.reader.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.reader.__aexit__(exc_type, exc, tb)

    async def plan(self, start: Start) -> list[Span]:
        """Fixes where each partition starts and ends, and positions the consumer there."""
        self.reader.start = start
        try:
            return await self.reader.plan()
        except TopicMissing:
            raise AnalystError(
                f"topic {self.name} does not exist (is CHIRP_TOPIC_PREFIX right? `chirp migrate` creates topics)"
            ) from None

    async def batches(self, follow: bool, stop: asyncio.Event) -> AsyncIterator[list[Record]]:
        """Records of one partition at a time, in offset order, up to the planned ends (or, following,
        until `stop` is set)."""
        async for batch in self.reader.batches(follow, stop):
            for _, records in itertools.groupby(batch, key=lambda r: r.partition):
                yield list(records)


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
