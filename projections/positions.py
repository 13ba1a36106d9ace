"""Log positions as the API hands them to clients, and the wait until the worker has applied them.

A write's answer carries where its event landed (`X-Chirp-Position: <topic>:<partition>:<offset>`, several joined
by commas); a read that names it waits until the live read-model version's progress (the next offset it has
applied, per `topic:partition`, projections/stores/redis.py) is past every offset named. Kafka topic names
hold only `[A-Za-z0-9._-]`, so `:` and `,` cannot be part of one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from infra.eventlog import Position
from projections.stores.redis import CatchUpTimeout, Progress, wait_caught_up

MAX_POSITIONS = 32
_ONE = re.compile(r"^([A-Za-z0-9._-]{1,249}):(\d{1,9}):(\d{1,19})$")


class BadPosition(ValueError):
    pass


def encode(positions: Iterable[Position]) -> str:
    """The token: the furthest position per partition, comma separated."""
    return ",".join(f"{t}:{p}:{end - 1}" for (t, p), end in sorted(ends(positions).items()))


def ends(positions: Iterable[Position]) -> dict[tuple[str, int], int]:
    """Per (topic, partition): the offset the worker's progress must reach (one past the furthest event)."""
    out: dict[tuple[str, int], int] = {}
    for t, p, o in positions:
        out[(t, p)] = max(out.get((t, p), 0), o + 1)
    return out


def decode(token: str) -> list[Position]:
    """The positions a token names; BadPosition if it is not one this API returned."""
    parts = [p.strip() for p in token.split(",") if p.strip()]
    if not parts or len(parts) > MAX_POSITIONS:
        raise BadPosition(f"expected 1 to {MAX_POSITIONS} <topic>:<partition>:<offset> positions")
    out = []
    for part in parts:
        m = _ONE.match(part)
        if m is None:
            raise BadPosition(f"not a <topic>:<partition>:<offset> position: {part[:80]!r}")
        out.append(Position(m.group(1), int(m.group(2)), int(m.group(3))))
    return out


def progress_ends(positions: Iterable[Position]) -> dict[str, int]:
    """`ends` keyed as the worker records its progress (`topic:partition`)."""
    return {f"{t}:{p}": o for (t, p), o in ends(positions).items()}


def applied(progress: Mapping[str, int], wanted: Mapping[str, int]) -> bool:
    return all(progress.get(k, 0) >= end for k, end in wanted.items())


async def wait_applied(progress: Progress, wanted: Mapping[str, int], timeout_s: float) -> bool:
    """Whether the worker applied everything `wanted` names (`topic:partition` -> end offset) within
    `timeout_s`; polls the progress (a first look costs one Redis read)."""
    if not wanted:
        return True
    try:
        await wait_caught_up(progress, dict(wanted), timeout_s, poll_s=0.01)
    except CatchUpTimeout:
        return False
    return True
