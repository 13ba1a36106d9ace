"""Reading "the entries immediately above an id" (Mastodon's `min_id`) from read models that answer newest first.

Home timelines, the public timeline and a tag's statuses are read newest first below a bound. For `min_id` the
page must be the `limit` entries just above it, however many newer ones there are. Ids carry their creation time
(schemas/ids.py), so the read looks at a window of time just above `min_id` and sizes it until the window holds
at least `limit` entries (or reaches the top) but no more than one read returns: it grows the window fourfold
while it holds too few, and bisects once it has seen one that held too many.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from schemas.ids import MAX_ID, NODE_BITS, SEQ_BITS

T = TypeVar("T")
SHIFT = NODE_BITS + SEQ_BITS
FIRST_SPAN_MS = 1_000
SPAN_READ = 200  # entries one read of a window may return
MAX_STEPS = 48
MAX_WALK = 1000  # reads of a window too dense to size (thousands of ids in a millisecond)

# (before, after, limit) -> entries strictly between, newest first, and whether more lie below the last
Newest = Callable[[int | None, int | None, int], Awaitable[tuple[list[T], bool]]]


async def oldest_first(
    read: Newest[T], key: Callable[[T], int], before: int | None, after: int, limit: int
) -> list[T]:  # fmt: skip
    """The `limit` entries immediately above `after` (and below `before`), oldest first."""
    top = before or MAX_ID
    want = max(limit, 1)
    cap = max(SPAN_READ, want)
    few, many = 0, None  # spans (ms) known to hold too few entries, and too many
    span = FIRST_SPAN_MS
    items: list[T] = []
    for _ in range(MAX_STEPS):
        high = min(top, after + (span << SHIFT) + 1)
        items, more = await read(high, after, cap)
        if more and high > after + 1:  # more than one read holds: the oldest ones were not read
            many = span
        elif len(items) >= want or high >= top:
            return list(reversed(items))[:want]
        else:
            few = span
        if many is None:
            span *= 4
        elif many - few <= 1:
            break
        else:
            span = (few + many) // 2
    # More entries than one read returns within a millisecond or so of ids: walk that narrow window down.
    cursor: int | None = min(top, after + ((many or span) << SHIFT) + 1)
    tail: list[T] = []
    for _ in range(MAX_WALK):
        items, more = await read(cursor, after, cap)
        tail = (tail + items)[-want:]
        if not more or not items:
            break
        cursor = key(items[-1])
    return list(reversed(tail))
