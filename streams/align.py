"""Time alignment of partitions: the worker projects events in (close to) the order they were written.

Kafka orders a partition, not a topic. A worker draining a backlog takes about as many records from each
partition in turn, so a partition that holds few of the backlog's tweets runs minutes ahead in time of
one that holds many. A follower of authors on both then receives tweets out of order, and every late one
costs the timeline store its slow path (an inbox insert instead of one LPUSH at the head).

`Aligner` holds a batch's records back until every partition that still has a backlog has been read up to
their time (what Kafka Streams does before choosing the next record): records are released in timestamp
order, each partition's as a prefix in offset order, so the progress recorded per partition stays exact.
A partition with nothing left to read bounds nothing, so a caught-up worker releases at once; nor does one
that has delivered nothing for `max_wait_s` (stalled), and at most `max_held` records wait. While every
lagging partition keeps delivering, records wait as long as it takes: a backlog written in two seconds may
take a minute to drain, and it drains in the order it was written.

Held records are not yet projected, so the worker records no progress past them: if the worker dies or
the partitions move, they are read again from the log.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Partition = tuple[str, int]


@dataclass
class _Queue:
    records: deque[tuple[float, Any]] = field(default_factory=deque)  # (timestamp, record)
    last_ts: float = float("-inf")  # timestamp of the newest record read from the partition
    last_offset: int = -1
    seen_at: float = float("-inf")  # when a record of the partition was last read (the clock's time)


class Aligner:
    """Holds records until the partitions behind them catch up (see the module docstring).

    Records need `topic`, `partition`, `offset` and `timestamp` (seconds) attributes, as Faust's have.
    `max_held` bounds the records held; a partition silent for `max_wait_s` holds nothing back (0: no holding).
    """

    def __init__(self, max_held: int, max_wait_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_held = max_held
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.queues: dict[Partition, _Queue] = {}
        self.held = 0

    def retain(self, partitions: Iterable[Partition]) -> None:
        """After a rebalance: forgets the partitions that moved away (their new owner reads them from the progress
        it finds), and keeps what it holds of those it still owns. A kept partition is not read again unless
        Kafka has a commit for it to seek back to, so dropping its held records would leave them unprojected
        until its next record arrived."""
        kept = set(partitions)
        for p in [p for p in self.queues if p not in kept]:
            self.held -= len(self.queues.pop(p).records)

    def add(self, records: Iterable[Any]) -> None:
        """Queues records; one at or below the newest offset already queued for its partition is skipped (the
        partition was read again from an earlier offset after a rebalance: those were projected or are held)."""
        now = self.clock()
        for r in records:
            q = self.queues.setdefault((r.topic, r.partition), _Queue())
            if r.offset <= q.last_offset:
                continue
            q.records.append((r.timestamp, r))
            q.last_ts = max(q.last_ts, r.timestamp)
            q.last_offset = max(q.last_offset, r.offset)
            q.seen_at = now
            self.held += 1

    def first_held(self) -> dict[Partition, int]:
        """The offset of the oldest held record per partition: where the progress of a partition stops."""
        return {p: q.records[0][1].offset for p, q in self.queues.items() if q.records}

    def release(self, backlog: Callable[[Partition, int], int]) -> list[Any]:
        """The records that may be projected now, in timestamp order (each partition's in offset order).

        `backlog(partition, next_offset)` is how many records the partition still has past `next_offset`.
        """
        now = self.clock()
        bound = min(
            (
                q.last_ts
                for p, q in self.queues.items()
                if now - q.seen_at <= self.max_wait_s and backlog(p, q.last_offset + 1) > 0
            ),
            default=float("inf"),
        )
        if self.max_wait_s <= 0 or self.max_held <= 0:
            bound = float("inf")
        out: dict[Partition, list[Any]] = {p: [] for p in self.queues}
        for p, q in self.queues.items():
            while q.records and q.records[0][0] <= bound:
                out[p].append(q.records.popleft())
        self._pop_overdue(out)
        runs = [_monotonic(run) for run in out.values() if run]
        released = [r for _, r in heapq.merge(*runs, key=lambda x: x[0])]
        self.held -= len(released)
        return released

    def _pop_overdue(self, out: dict[Partition, list[Any]]) -> None:
        """Oldest first, while more than `max_held` records are held."""
        heads = [(q.records[0][0], p, q) for p, q in self.queues.items() if q.records]
        heapq.heapify(heads)
        remaining = sum(len(q.records) for q in self.queues.values())
        while heads:
            _, p, q = heads[0]
            if remaining <= self.max_held:
                break
            out[p].append(q.records.popleft())
            remaining -= 1
            if q.records:
                heapq.heapreplace(heads, (q.records[0][0], p, q))
            else:
                heapq.heappop(heads)


def _monotonic(run: list[tuple[float, Any]]) -> list[tuple[float, Any]]:
    """A partition's released records keyed by the running maximum of their timestamps: a merge on that
    key keeps them in offset order even where a producer's clock stepped back."""
    out, top = [], float("-inf")
    for ts, r in run:
        top = max(top, ts)
        out.append((top, r))
    return out
