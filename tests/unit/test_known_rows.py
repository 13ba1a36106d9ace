"""The memory of index rows already written stays bounded and keeps the rows in use."""

from __future__ import annotations

from projections.stores.known import KnownRows


def test_it_never_holds_more_than_its_limit_and_keeps_what_is_used() -> None:
    known = KnownRows(limit=100)
    known.remember([("the", 1)])
    for n in range(10_000):
        known.remember([(f"word{n}", 1)])
        assert ("the", 1) in known  # used all along: never forgotten
        assert len(known) <= 100
    assert ("word0", 1) not in known and ("word9999", 1) in known
