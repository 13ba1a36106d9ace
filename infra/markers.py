"""Read markers of the Mastodon-compatible API (`/api/v1/markers`) and the notifications' cleared floor, in
Cassandra so that every API process shares them (table in infra/migrations/0009_markers.cql).

Each marker has Mastodon's `version`, one more on every change: a lightweight transaction on the version read
before makes concurrent writers take turns (the loser reads again and retries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cassandra.cluster import Session

from infra.cassandra import execute

ATTEMPTS = 8


class MarkerConflict(RuntimeError):
    """Other writers kept changing the marker; Mastodon answers 409 and the client retries."""


@dataclass(frozen=True, slots=True)
class Marker:
    timeline: str
    last_read_id: int
    version: int
    updated_at: datetime


class MarkerStore(Protocol):
    async def get(self, user_id: int, timelines: Sequence[str]) -> dict[str, Marker]:
        """The markers set among `timelines` (a timeline never set is left out)."""
        ...

    async def set(self, user_id: int, timeline: str, last_read_id: int) -> Marker:
        """Sets the marker (its version one more); raises MarkerConflict after too many concurrent changes."""
        ...


class CassandraMarkers:
    def __init__(self, session: Session) -> None:
        self.s = session
        p = session.prepare
        self._get = p("SELECT timeline, last_read_id, version, updated_at FROM markers WHERE user_id = ? "
                      "AND timeline IN ?")  # fmt: skip
        self._create = p("INSERT INTO markers (user_id, timeline, last_read_id, version, updated_at) "
                         "VALUES (?, ?, ?, 1, ?) IF NOT EXISTS")  # fmt: skip
        self._update = p("UPDATE markers SET last_read_id = ?, version = ?, updated_at = ? WHERE user_id = ? "
                         "AND timeline = ? IF version = ?")  # fmt: skip

    async def get(self, user_id: int, timelines: Sequence[str]) -> dict[str, Marker]:
        if not timelines:
            return {}
        rows = await execute(self.s, self._get, (user_id, list(dict.fromkeys(timelines))))
        return {
            r.timeline: Marker(r.timeline, r.last_read_id, r.version, r.updated_at.replace(tzinfo=UTC)) for r in rows
        }

    async def set(self, user_id: int, timeline: str, last_read_id: int) -> Marker:
        for _ in range(ATTEMPTS):
            now = datetime.now(UTC)
            found = (await self.get(user_id, [timeline])).get(timeline)
            if found is None:
                done = await execute(self.s, self._create, (user_id, timeline, last_read_id, now))
                version = 1
            else:
                version = found.version + 1
                params = (last_read_id, version, now, user_id, timeline, found.version)
                done = await execute(self.s, self._update, params)
            if done and done[0].applied:
                return Marker(timeline, last_read_id, version, now.replace(microsecond=now.microsecond // 1000 * 1000))
        raise MarkerConflict(f"the {timeline} marker kept changing")
