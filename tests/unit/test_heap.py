"""infra/heap.py: what start-up built is frozen out of the collector, and the young threshold is applied."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from infra import heap


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settling_freezes_what_lives_and_sets_the_young_threshold(restored: None) -> None:
    kept = [[i] for i in range(1000)]  # long-lived containers, as start-up leaves them
    heap.settle(4321)
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == 4321
    assert gc.collect() >= 0 and all(x == [i] for i, x in enumerate(kept))  # frozen, still alive
