"""Analysts' tools: `chirp tap` (events as JSON lines) and `chirp export` (Avro and Parquet files).

Both decode with only the `.avsc` files (through `schemas.codec`), so what they show is exactly what
any consumer holding those files reads; the export's columns are generated from the same files.
"""

from __future__ import annotations

from datetime import UTC, datetime


class AnalystError(ValueError):
    """A request the tools cannot serve (bad option, missing topic); the message says what to do."""


def parse_time(text: str) -> datetime:
    """An ISO-8601 date or datetime as an aware UTC datetime; no zone means UTC (event times are UTC)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AnalystError(
            f"not an ISO-8601 date or datetime: {text!r} (e.g. 2026-01-31, 2026-01-31T12:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC with microseconds and `Z`: sorts as text, like the API's timestamps."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
