"""The projector feeds further read models (search, trends, notifications) the events its rules accepted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from projections.model import TweetView
from projections.ports import Authors
from projections.projector import Projector
from schemas.events import Event, Meta, TweetDeleted, TweetEdited, TweetPosted


class Nothing:
    """Durable projections and timelines that accept every write and know no tweet."""

    def writes(self) -> Nothing:
        return self

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    async def flush(self) -> int:
        return 0

    async def tweets(self, ids: Sequence[int]) -> dict[int, TweetView]:
        return {}

    async def authors(self, ids: Sequence[int]) -> Authors:
        return {}

    async def handle_owners(self, keys: Sequence[str]) -> dict[str, int]:
        return {}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[Event, tuple[int, int | None] | None]] = []
        self.flushed: list[int] = []
        self.queued: list[tuple[Event, tuple[int, int | None] | None]] = []

    def writes(self) -> Recorder:
        return self

    def apply(self, event: Event, authors: Authors) -> None:
        self.queued.append((event, authors.get(getattr(event, "tweet_id", -1))))

    async def flush(self) -> None:
        self.flushed.append(len(self.queued))
        self.seen += self.queued
        self.queued = []


def meta(actor: int) -> Meta:
    return Meta("e", datetime(2026, 1, 1, tzinfo=UTC), actor)


def test_extras_see_accepted_events_in_order_with_their_authors_and_are_flushed_once() -> None:
    rec = Recorder()
    projector = Projector(Nothing(), Nothing(), [rec])  # type: ignore[arg-type]
    events: list[Event] = [
        TweetPosted(meta(1), 10, 1, "hello #chirp", reply_to=7),
        TweetEdited(meta(2), 10, 2, "not mine"),  # refused: 2 is not the author
        TweetEdited(meta(1), 10, 1, "hello again"),
        TweetDeleted(meta(1), 99, 1),  # refused: unknown tweet
    ]
    outcome = asyncio.run(projector.apply_batch(events))
    assert sorted(outcome.violations) == [1, 3]
    assert [type(e).__name__ for e, _ in rec.seen] == ["TweetPosted", "TweetEdited"]
    assert [a for _, a in rec.seen] == [(1, 7), (1, 7)]
    assert rec.flushed == [2]


class SlowDurable(Nothing):
    """Durable writes that finish only when told to, after the timelines."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.finished_at: datetime | None = None

    async def flush(self) -> int:
        await self.release.wait()
        self.finished_at = datetime.now(UTC)
        return 0


class Timelines(Nothing):
    def __init__(self, durable: SlowDurable) -> None:
        self.durable = durable

    async def flush(self) -> int:
        self.durable.release.set()  # the durable writes may end only once these are done
        return 3


def test_a_batch_is_visible_when_its_timelines_are_written_not_when_the_durable_writes_end() -> None:
    durable = SlowDurable()
    projector = Projector(durable, Timelines(durable))  # type: ignore[arg-type]
    before = datetime.now(UTC)
    outcome = asyncio.run(projector.apply_batch([TweetPosted(meta(1), 10, 1, "hello")]))
    assert outcome.deliveries == 3
    assert outcome.visible_at is not None and durable.finished_at is not None
    assert before <= outcome.visible_at <= durable.finished_at
