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

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQ_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_ID = (1 << 63) - 1
_SEQ_MASK = (1 << SEQ_BITS) - 1
# What clients may send: up to 18 digits, or 19 below 9e18 (ids reach 9e18 in centuries, not years), so that
# one regular expression (also the OpenAPI pattern) says exactly which ids fit in 64 bits.
ID_PATTERN = r"^(?:[1-9][0-9]{0,17}|[1-8][0-9]{18})$"
LARGEST_CLIENT_ID = 8_999_999_999_999_999_999
_ID_TEXT = re.compile(ID_PATTERN)


class IdGenerator:
    """Makes unique ids for one node; never goes backwards, even when the wall clock does."""

    def __init__(self, node_id: int, clock_ms: Callable[[], int] | None = None) -> None:
        if not 0 <= node_id <= MAX_NODE:
            raise ValueError(f"node_id must be within 0..{MAX_NODE}, got {node_id}")
        self._node = node_id << SEQ_BITS
        self._clock: Callable[[], int] = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._last_ms = 0
        self._seq = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            now = max(self._clock() - EPOCH_MS, self._last_ms)
            if now == self._last_ms:
                self._seq = (self._seq + 1) & _SEQ_MASK
                if self._seq == 0:  # 4096 ids in one millisecond: borrow the next one
                    now += 1
            else:
                self._seq = 0
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
