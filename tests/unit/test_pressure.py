"""Reads first across processes: a slow home-timeline read signals the read pressure, a fast one or another
route does not; and the fan-out consults the signal before every round."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.accounts import Grant, token_digest
from infra.settings import Settings
from projections.queries import Queries
from projections.stores.redis import Pacing, RedisTimelines, RedisTimelineWrites, Replicas
from tests.fakes.accounts import MemoryAccounts
from tests.fakes.api import memory_wiring
from tests.unit.test_fastlane import ME, TOKEN, FakeQueries


class CountingPressure:
    def __init__(self, active: bool = False) -> None:
        self.signals = 0
        self.marks = 0
        self.asked = 0
        self.is_active = active
        self.reading = False

    async def signal(self) -> None:
        self.signals += 1

    async def mark_reading(self) -> None:
        self.marks += 1

    async def active(self) -> bool:
        self.asked += 1
        return self.is_active


def client(slow_ms: float, raise_server_exceptions: bool = True) -> tuple[TestClient, CountingPressure]:
    settings = Settings(read_slow_ms=slow_ms)
    accounts = MemoryAccounts()
    accounts.tokens[token_digest(TOKEN)] = Grant(ME)
    w = memory_wiring(settings, None, accounts)
    w.queries = cast(Queries, FakeQueries())
    pressure = CountingPressure()
    w.pressure = cast(Any, pressure)
    return TestClient(create_app(settings, w), raise_server_exceptions=raise_server_exceptions), pressure


def test_a_slow_timeline_read_signals_and_a_fast_one_does_not() -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    slow, p = client(slow_ms=0.000001)  # every read is over budget
    with slow:
        assert slow.get(f"/timeline?user_id={ME}", headers=auth).status_code == 200
        assert slow.get("/healthz").status_code == 200
    assert p.signals == 1 and p.marks == 1  # the timeline read only
    fast, q = client(slow_ms=60_000)
    with fast:
        assert fast.get(f"/timeline?user_id={ME}", headers=auth).status_code == 200
    assert q.signals == 0 and q.marks == 1  # served, not slow


def test_a_mastodon_home_read_marks_reads_as_served_too() -> None:
    fast, p = client(slow_ms=60_000, raise_server_exceptions=False)  # the fake queries serve /timeline only
    with fast:
        fast.get("/api/v1/timelines/home", headers={"Authorization": f"Bearer {TOKEN}"})
        fast.get("/api/v1/timelines/public")
    assert p.marks == 1


def test_rounds_and_calls_are_small_while_reads_are_served() -> None:
    pressure = CountingPressure()
    pacing = Pacing(chunk=256, round=1024, pressure=cast(Any, pressure), reading_round=64)
    assert (pacing.round_now(), pacing.chunk_now()) == (1024, 256)
    pressure.reading = True
    assert (pacing.round_now(), pacing.chunk_now()) == (64, 64)
    assert Pacing(chunk=256, round=1024).round_now() == 1024  # no signal to ask: big rounds


class FakePipe:
    def __init__(self) -> None:
        self.command_stack = [object()]

    async def execute(self) -> list[Any]:
        return []


async def _loaded(self: Any, node: Any) -> None:
    """The fake store's scripts are always loaded."""


@pytest.fixture
def slept(monkeypatch: Any) -> list[float]:
    """The pauses the code under test asks asyncio.sleep for (taken as a zero sleep)."""
    real_sleep = asyncio.sleep
    asked: list[float] = []

    async def sleep(s: float) -> None:
        asked.append(s)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return asked


def writes_paced(pacing: Pacing) -> RedisTimelineWrites:
    """A batch's writes whose rounds go to fake pipelines, paced by `pacing`."""
    attrs = {"pacing": pacing, "replicas": Replicas(), "ensure_scripts": _loaded, "forget_scripts": lambda s, n: None}
    writes = RedisTimelineWrites.__new__(RedisTimelineWrites)
    writes.tl = cast(RedisTimelines, type("T", (), attrs)())
    return writes


def test_the_fan_out_asks_before_each_round_and_yields_while_reads_are_slow(slept: list[float]) -> None:
    for active in (False, True):
        slept.clear()
        pressure = CountingPressure(active)
        writes = writes_paced(Pacing(yield_s=0.001, pressure=cast(Any, pressure)))
        for _ in range(3):
            asyncio.run(writes._send_round({"node": FakePipe()}))
        assert pressure.asked == 3
        assert slept == ([0.001] * 3 if active else [])


def test_while_reads_are_served_the_fan_out_pauses_in_proportion_to_its_rounds() -> None:
    pressure = CountingPressure()
    pacing = Pacing(pressure=cast(Any, pressure), reading_pause=1.5)
    assert pacing.pause_after(0.004) == 0.0  # no reads: the fan-out runs flat out
    pressure.reading = True
    assert pacing.pause_after(0.004) == pytest.approx(0.006)
    assert pacing.pause_after(0.010) == pytest.approx(0.015)  # a round that waited behind reads: a longer pause
    assert Pacing(pressure=cast(Any, pressure)).pause_after(0.004) == 0.0  # off by default in the store


def test_a_round_sent_while_reads_are_served_is_followed_by_its_pause(slept: list[float]) -> None:
    pressure = CountingPressure()
    writes = writes_paced(Pacing(yield_s=0, pressure=cast(Any, pressure), reading_pause=1.0))
    asyncio.run(writes._send_round({"node": FakePipe()}))
    assert slept == []  # nobody reads: no pause
    pressure.reading = True
    asyncio.run(writes._send_round({"node": FakePipe()}))
    assert len(slept) == 1 and slept[0] > 0


class CountedPipe:
    """A pipeline that takes a few turns of the loop to answer, counting how many run at once."""

    running = 0
    peak = 0

    def __init__(self, n: int) -> None:
        self.command_stack = [object()]
        self.n = n

    async def execute(self) -> list[Any]:
        CountedPipe.running += 1
        CountedPipe.peak = max(CountedPipe.peak, CountedPipe.running)
        for _ in range(3):
            await asyncio.sleep(0)
        CountedPipe.running -= 1
        return [self.n]


def peak_of(pacing: Pacing, disjoint: bool) -> tuple[int, list[Any]]:
    """How many of six queued rounds ran at once, and their results in order."""
    writes = writes_paced(pacing)
    writes.rounds, writes.fanouts, writes.backfills, writes.queued = (
        [{"node": CountedPipe(i)} for i in range(6)],
        [],
        [],
        0,
    )
    CountedPipe.peak = 0
    _, _, results = asyncio.run(writes._send_all(disjoint=disjoint))
    return CountedPipe.peak, [r["node"] for r in results]


def test_a_batchs_deliveries_go_out_a_few_rounds_at_once_while_nobody_reads() -> None:
    pressure = CountingPressure()
    pacing = Pacing(yield_s=0, pressure=cast(Any, pressure), parallel=3)
    assert peak_of(pacing, disjoint=True) == (3, [[i] for i in range(6)])  # results still in round order
    assert peak_of(pacing, disjoint=False)[0] == 1  # rounds that may touch the same keys: one after another
    pressure.reading = True
    assert peak_of(pacing, disjoint=True)[0] == 1  # while reads are served: one small round at a time
