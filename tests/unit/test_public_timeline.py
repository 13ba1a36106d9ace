"""The public timeline over the in-memory postings store, and `oldest_first` (Mastodon's min_id) over a list."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.windows import SHIFT, oldest_first
from tests.fakes.search import MemorySearchStore
from tests.unit.public_contract import PublicTimelineContract


class TestMemoryPublicTimeline(PublicTimelineContract):
    @pytest.fixture
    def store(self) -> MemorySearchStore:
        return MemorySearchStore()


def reader(ids: list[int]):  # type: ignore[no-untyped-def]
    reads = []

    async def read(before: int | None, after: int | None, limit: int) -> tuple[list[int], bool]:
        reads.append((before, after))
        inside = sorted((i for i in ids if (before is None or i < before) and (after is None or i > after)),
                        reverse=True)  # fmt: skip
        return inside[:limit], len(inside) > limit

    return read, reads


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=10**12), min_size=0, max_size=400, unique=True),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=1, max_value=40),
    st.booleans(),
)
def test_oldest_first_is_the_entries_just_above(ms: list[int], low_ms: int, limit: int, bounded: bool) -> None:
    import asyncio

    ids = [m << SHIFT for m in ms]
    after = low_ms << SHIFT
    above = sorted(i for i in ids if i > after)
    before = above[len(above) // 2] if bounded and above else None
    expected = [i for i in above if before is None or i < before][:limit]
    read, reads = reader(ids)
    assert asyncio.run(oldest_first(read, lambda i: i, before, after, limit)) == expected
    assert len(reads) <= 48


def test_dense_entries_are_found_with_few_reads() -> None:
    import asyncio

    ids = [(1000 << SHIFT) + n for n in range(5000)]  # 5000 in one millisecond's worth of ids... and spread ones
    ids += [(m * 7) << SHIFT for m in range(200, 100_000, 3)]
    read, reads = reader(ids)
    after = 999 << SHIFT
    got = asyncio.run(oldest_first(read, lambda i: i, None, after, 20))
    assert got == sorted(i for i in ids if i > after)[:20] and len(reads) < 100
