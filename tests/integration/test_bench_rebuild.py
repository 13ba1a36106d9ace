"""`python -m bench.rebuild` against the real Redis: a build keeps the entries asked for, and Redis's CPU is read."""

from __future__ import annotations

from bench.rebuild import measure
from infra.settings import Settings


async def test_a_build_of_many_lists_keeps_the_entries_asked_for(settings: Settings) -> None:
    wall, mine, redis_cpu, built = await measure(settings, followees=6, tweets=12, entries=25, builds=3)
    assert built == 25  # of 72 tweets, the newest 25
    assert wall > 0 and mine >= 0 and redis_cpu >= 0
