"""Reads first across processes: a slow home-timeline read signals the read pressure, a fast one or another
route does not; and the fan-out consults the signal before every round."""

from __future__ import annotations

import asyncio
from typing import Any, cast

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
        self.asked = 0
        self.is_active = active

    async def signal(self) -> None:
        self.signals += 1

    async def active(self) -> bool:
        self.asked += 1
        return self.is_active


def client(slow_ms: float) -> tuple[TestClient, CountingPressure]:
    settings = Settings(read_slow_ms=slow_ms)
    accounts = MemoryAccounts()
    accounts.tokens[token_digest(TOKEN)] = Grant(ME)
    w = memory_wiring(settings, None, accounts)
    w.queries = cast(Queries, FakeQueries())
    pressure = CountingPressure()
    w.pressure = cast(Any, pressure)
    return TestClient(create_app(settings, w)), pressure


def test_a_slow_timeline_read_signals_and_a_fast_one_does_not() -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    slow, p = client(slow_ms=0.000001)  # every read is over budget
    with slow:
        assert slow.get(f"/timeline?user_id={ME}", headers=auth).status_code == 200
        assert slow.get("/healthz").status_code == 200
    assert p.signals == 1  # the timeline read only
    fast, q = client(slow_ms=60_000)
    with fast:
        assert fast.get(f"/timeline?user_id={ME}", headers=auth).status_code == 200
    assert q.signals == 0


class FakePipe:
    def __init__(self) -> None:
        self.command_stack = [object()]

    async def execute(self) -> list[Any]:
        return []


async def _loaded(self: Any, node: Any) -> None:
    """The fake store's scripts are always loaded."""


def test_the_fan_out_asks_before_each_round_and_yields_while_reads_are_slow(monkeypatch: Any) -> None:
    real_sleep = asyncio.sleep
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    for active in (False, True):
        slept.clear()
        pressure = CountingPressure(active)
        tl = cast(
            RedisTimelines,
            type(
                "T",
                (),
                {
                    "pacing": Pacing(yield_s=0.001, pressure=cast(Any, pressure)),
                    "replicas": Replicas(),
                    "ensure_scripts": _loaded,
                    "forget_scripts": lambda self, node: None,
                },
            )(),
        )
        writes = RedisTimelineWrites.__new__(RedisTimelineWrites)
        writes.tl = tl
        for _ in range(3):
            asyncio.run(writes._send_round({"node": FakePipe()}))
        assert pressure.asked == 3
        assert slept == ([0.001] * 3 if active else [])
