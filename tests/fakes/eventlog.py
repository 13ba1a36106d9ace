"""An in-memory event log (infra/eventlog.py's `append`), for unit tests."""

from __future__ import annotations

from infra.eventlog import EventLogUnavailable
from schemas.events import Event


class MemoryEventLog:
    """Records appended events; `fail` makes appends raise like Kafka down."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail = False

    async def append(self, event: Event) -> None:
        if self.fail:
            raise EventLogUnavailable("memory event log set to fail")
        self.events.append(event)
