"""Time-sortable 64-bit ids (Snowflake layout), sent to clients as decimal strings.

Layout, most significant first: 1 zero bit, 41 bits of milliseconds since EPOCH_MS,
10 bits of node id, 12 bits of sequence. Ids from one generator are strictly increasing,
and ids from different nodes sort by creation time to the millisecond.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQ_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
# Nodes API processes lease (api/idlease.py), and the few kept out of leases for tools that write events
# straight to the log (the benchmark's feed and workloads, tests).
LEASED_NODES = range(0, MAX_NODE - 3)
TOOL_NODES = range(MAX_NODE - 3, MAX_NODE + 1)
MAX_ID = (1 << 63) - 1
_SEQ_MASK = (1 << SEQ_BITS) - 1
# What clients may send: up to 18 digits, or 19 below 9e18 (ids reach 9e18 in centuries, not years), so that
# one regular expression (also the OpenAPI pattern) says exactly which ids fit in 64 bits.
ID_PATTERN = r"^(?:[1-9][0-9]{0,17}|[1-8][0-9]{18})$"
LARGEST_CLIENT_ID = 8_999_999_999_999_999_999
_ID_TEXT = re.compile(ID_PATTERN)


def wall_ms() -> int:
    """The wall clock in ms, as ids encode it."""
    return time.time_ns() // 1_000_000


class IdsUnavailable(RuntimeError):
    """This process may not make ids now: its node lease lapsed (or is not renewed yet). Retry shortly."""


class IdSource(Protocol):
    def next_id(self) -> int: ...


class IdGenerator:
    """Makes unique ids for one node; never goes backwards, even when the wall clock does.

    `floor_ms` and `until_ms` (wall-clock ms, as `clock_ms` gives them) fence a leased node: ids start
    above every id the node's previous holder may have made (its last `until_ms`), and none is made past the
    holder's own `until_ms` (when its lease may have lapsed), so two holders of one node never share an id,
    however far apart their clocks are."""

    def __init__(
        self,
        node_id: int,
        clock_ms: Callable[[], int] | None = None,
        floor_ms: int = 0,
        until_ms: int | None = None,
    ) -> None:
        if not 0 <= node_id <= MAX_NODE:
            raise ValueError(f"node_id must be within 0..{MAX_NODE}, got {node_id}")
        self.node_id = node_id
        self._node = node_id << SEQ_BITS
        self._clock: Callable[[], int] = clock_ms or wall_ms
        self._last_ms = max(floor_ms - EPOCH_MS, 0)
        self._seq = _SEQ_MASK if floor_ms else 0  # the floor's millisecond is taken: start at the next one
        self.until_ms = until_ms
        self._lock = threading.Lock()

    @property
    def high_ms(self) -> int:
        """The wall-clock ms of the newest id made (or of the floor)."""
        return self._last_ms + EPOCH_MS

    def next_id(self) -> int:
        with self._lock:
            now = max(self._clock() - EPOCH_MS, self._last_ms)
            if now == self._last_ms:
                self._seq = (self._seq + 1) & _SEQ_MASK
                if self._seq == 0:  # 4096 ids in one millisecond: borrow the next one
                    now += 1
            else:
                self._seq = 0
            if self.until_ms is not None and now + EPOCH_MS > self.until_ms:
                raise IdsUnavailable("this process's id lease has lapsed; retry shortly")
            self._last_ms = now
            return (now << (NODE_BITS + SEQ_BITS)) | self._node | self._seq


def parse_id(text: str) -> int:
    """Parses a decimal id as sent by clients; raises ValueError with a readable reason."""
    if not isinstance(text, str) or not _ID_TEXT.fullmatch(text):
        raise ValueError("must be a positive decimal id (at most 19 digits, below 9000000000000000000)")
    value = int(text)
    if value > MAX_ID:
        raise ValueError("is larger than a 64-bit id")
    return value


def id_time(id_: int) -> datetime:
    """The creation time encoded in an id, to the millisecond."""
    ms = (id_ >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
