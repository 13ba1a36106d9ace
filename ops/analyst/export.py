"""`chirp export`: a topic as an Avro object container file or a Parquet file, one row per event.

Rows follow the topic's flat schema (`flat.py`). Memory stays bounded: Avro is written block by block,
Parquet one row group at a time. The file appears under its name only when complete (written as
`<name>.partial`, then renamed), so a reader never opens half an export.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
from fastavro.write import Writer
from tqdm import tqdm

from infra.settings import Settings
from ops.analyst import AnalystError
from ops.analyst.flat import arrow_schema, column_names, event_types, flat_schema
from ops.analyst.reader import Record, Span, TopicReader, stop_on_signals
from schemas.codec import Codec, DecodeError, default_codec
from schemas.topics import EVENT_TOPICS, Topic

ROW_GROUP = 50_000
FORMATS = (".avro", ".parquet")
Report = Callable[[str], None]


class Interrupted(RuntimeError):
    """SIGINT or SIGTERM arrived mid-export; the partial file has been removed."""


class Sink(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


class AvroSink:
    """An Avro object container file (deflate blocks): Spark, DuckDB's avro extension, fastavro read it."""

    def __init__(self, path: Path, schema: dict[str, Any]) -> None:
        self.file = path.open("wb")
        self.writer = Writer(self.file, fastavro.parse_schema(schema), codec="deflate")

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.writer.write(row)

    def close(self) -> None:
        try:
            self.writer.flush()
        finally:
            self.file.close()


class ParquetSink:
    """A Parquet file (zstd) written one row group at a time; pandas, DuckDB, Spark read it.

    Rows wait as column lists (a value per cell, not a dict per row) until a row group is full.
    """

    def __init__(self, path: Path, schema: dict[str, Any], row_group: int = ROW_GROUP) -> None:
        self.schema = arrow_schema(schema)
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.row_group = row_group
        self.columns: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self.pending = 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        for name, values in self.columns.items():
            values += [row[name] for row in rows]
        self.pending += len(rows)
        if self.pending >= self.row_group:
            self._flush()

    def close(self) -> None:
        try:
            if self.pending:
                self._flush()
        finally:
            self.writer.close()

    def _flush(self) -> None:
        table = pa.Table.from_pydict(self.columns, schema=self.schema)
        self.writer.write_table(table, row_group_size=self.row_group)
        self.columns = {name: [] for name in self.schema.names}
        self.pending = 0


def format_of(path: Path) -> str:
    """The format named by the file suffix; nothing is guessed."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise AnalystError(f"cannot tell the format of {path.name!r}: the file name must end in .avro or .parquet")
    return suffix


def open_sink(path: Path, schema: dict[str, Any], fmt: str) -> Sink:
    return AvroSink(path, schema) if fmt == ".avro" else ParquetSink(path, schema)


@dataclass(frozen=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None
    margin_s: float = 60.0

    def start(self) -> datetime | None:
        """Where to enter Kafka's time index: Kafka stamps a message when it is appended, after its event time,
        so `since` minus a margin for clocks that disagree finds every event at or after `since`."""
        return None if self.since is None else self.since - timedelta(seconds=self.margin_s)


class RowBuilder:
    """A Kafka record to a flat row, or None: undecodable, not this topic's type, or outside [since, until)."""

    def __init__(self, topic: Topic, codec: Codec, schema: dict[str, Any], window: Window, report: Report) -> None:
        self.codec = codec
        self.columns = column_names(schema)
        self.types = set(event_types(topic))
        self.since, self.until = window.since, window.until
        self.report = report
        self.skipped = 0

    def row(self, record: Record) -> dict[str, Any] | None:
        try:
            event, writer = self.codec.decode_record(record.value or b"")
        except DecodeError as exc:
            self._skip(record, str(exc))
            return None
        if writer.event_type not in self.types:
            self._skip(record, f"{writer.event_type} does not belong on this topic")
            return None
        if not self._in_window(event["occurred_at"]):
            return None
        row = dict.fromkeys(self.columns)
        row.update(event)
        row["kafka_partition"] = record.partition
        row["kafka_offset"] = record.offset
        row["kafka_timestamp"] = record.timestamp * 1000  # ms -> timestamp-micros
        return row

    def _in_window(self, occurred_at: datetime) -> bool:
        return (self.since is None or occurred_at >= self.since) and (self.until is None or occurred_at < self.until)

    def _skip(self, record: Record, reason: str) -> None:
        self.skipped += 1
        self.report(f"skipped message at partition {record.partition} offset {record.offset}: {reason}")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    scanned: int
    skipped: int
    seconds: float

    def summary(self) -> str:
        rate = self.scanned / self.seconds if self.seconds > 0 else 0.0
        return (
            f"exported {self.rows} events to {self.path} ({self.scanned} messages scanned, {self.skipped} skipped) "
            f"in {self.seconds:.1f}s, {rate:,.0f} messages/s"
        )


async def export(settings: Settings, topic: Topic, out: Path, window: Window, err: TextIO) -> ExportResult:
    """Writes the topic's events in the window (every event without one) to `out`, atomically."""
    fmt = format_of(out)
    check_window(topic, window)
    codec = default_codec()
    schema = flat_schema(topic, codec)
    builder = RowBuilder(topic, codec, schema, window, lambda line: tqdm.write(line, file=err))
    partial = out.with_name(out.name + ".partial")
    started = time.monotonic()
    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with TopicReader(settings, topic) as reader:
            start = window.start()
            spans = await reader.plan("beginning" if start is None else start)
            try:
                rows = await _copy(reader, spans, open_sink(partial, schema, fmt), builder, stop, err)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
    partial.replace(out)
    scanned = sum(s.count for s in spans)
    return ExportResult(out, rows, scanned, builder.skipped, time.monotonic() - started)


def check_window(topic: Topic, window: Window) -> None:
    if topic not in EVENT_TOPICS:
        raise AnalystError(f"{topic.name} holds no events to export (read dead letters with `chirp tap {topic.name}`)")
    if window.since is not None and window.until is not None and window.since >= window.until:
        raise AnalystError(f"--since ({window.since.isoformat()}) must be before --until ({window.until.isoformat()})")
    if window.margin_s < 0:
        raise AnalystError("the seek margin cannot be negative")


async def _copy(
    reader: TopicReader, spans: list[Span], sink: Sink, builder: RowBuilder, stop: asyncio.Event, err: TextIO
) -> int:
    """Streams the planned offsets through the builder into the sink, with a progress bar on a terminal."""
    rows = 0
    total = sum(s.count for s in spans)
    try:
        with tqdm(total=total, desc=f"export {reader.name}", unit="ev", unit_scale=True, file=err, disable=None) as bar:
            async for records in reader.batches(False, stop):
                chunk = [row for r in records if (row := builder.row(r)) is not None]
                sink.write(chunk)
                rows += len(chunk)
                bar.update(len(records))
    finally:
        sink.close()
    if stop.is_set():
        raise Interrupted("interrupted")
    return rows
