"""An in-memory event log (infra/eventlog.py's `append`), for unit tests."""

from __future__ import annotations

from infra.eventlog import EventLogUnavailable, Position
from schemas.events import Event


class MemoryEventLog:
    """Records appended events; `fail` makes appends raise like Kafka down, `ambiguous` like an
    acknowledgement that never came for an event Kafka did take."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail = False
        self.ambiguous = False

    async def append(self, event: Event) -> Position:
        if self.fail:
            raise EventLogUnavailable("memory event log set to fail")
        if self.ambiguous:
            self.events.append(event)
            raise EventLogUnavailable("memory event log: taken, but the acknowledgement was lost", maybe_written=True)
        self.events.append(event)
        return Position("memory", 0, len(self.events) - 1)
