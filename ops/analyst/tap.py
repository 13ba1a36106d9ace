"""`chirp tap`: a topic's events as JSON lines on stdout, for jq.

One object per event: the Avro record's fields (resolved to the latest schema version) with 64-bit ids as
decimal strings, as the API sends them, because jq and JavaScript round integers past 2^53; plus `_kafka`.
A tap is read-only and disposable: Ctrl-C, SIGTERM or a reader that went away (`| head`) end it quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, TextIO

import orjson

from infra.settings import Settings
from ops.analyst import AnalystError, iso
from ops.analyst.flat import event_types, id_fields
from ops.analyst.reader import Record, Span, TopicReader, stop_on_signals
from schemas.codec import Codec, DecodeError, default_codec
from schemas.topics import DEAD_LETTERS, EVENT_TOPICS, Topic

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


TAPPABLE: tuple[Topic, ...] = (*EVENT_TOPICS, DEAD_LETTERS)


def valid_types(topic: Topic) -> tuple[str, ...]:
    """Event types --type accepts: the topic's own, or every registered one for dead letters."""
    return tuple(n for t in EVENT_TOPICS for n in event_types(t)) if topic is DEAD_LETTERS else event_types(topic)


def check_type(topic: Topic, event_type: str | None) -> None:
    if topic not in TAPPABLE:
        raise AnalystError(f"{topic.name} is neither an event topic nor the dead letters; nothing to decode")
    if event_type is not None and event_type not in valid_types(topic):
        raise AnalystError(
            f"{event_type!r} is not an event type of topic {topic.name}; valid: {', '.join(valid_types(topic))}"
        )


def kafka_json(record: Record) -> dict[str, Any]:
    """Where the event sits in Kafka; the key is the decimal id the topic is keyed by."""
    return {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": iso(EPOCH + timedelta(milliseconds=record.timestamp)),
        "key": None if record.key is None else record.key.decode("utf-8", "replace"),
    }


class Renderer:
    """One Kafka record to one JSON line, or None when filtered out or undecodable (reported on `err`)."""

    def __init__(self, topic: Topic, codec: Codec, event_type: str | None, err: TextIO) -> None:
        self.dead_letters = topic is DEAD_LETTERS
        self.codec = codec
        self.event_type = event_type
        self.err = err
        self.ids = {name: id_fields(s.raw) for name, s in codec.latest.items()}
        self.undecodable = 0

    def line(self, record: Record) -> bytes | None:
        obj = self._dead_letter(record) if self.dead_letters else self._event(record)
        return None if obj is None else orjson.dumps(obj) + b"\n"

    def event_json(self, data: bytes) -> dict[str, Any]:
        """The decoded event, JSON-ready: timestamps ISO-8601 UTC, ids decimal strings. Raises DecodeError."""
        record, writer = self.codec.decode_record(data)
        ids = self.ids[writer.event_type]
        return {k: _json_value(v, k in ids) for k, v in record.items()}

    def _event(self, record: Record) -> dict[str, Any] | None:
        try:
            event = self.event_json(record.value or b"")
        except DecodeError as exc:
            self.undecodable += 1
            self.err.write(f"undecodable message at partition {record.partition} offset {record.offset}: {exc}\n")
            self.err.flush()
            return None
        if self.event_type is not None and event["event_type"] != self.event_type:
            return None
        return {**event, "_kafka": kafka_json(record)}

    def _dead_letter(self, record: Record) -> dict[str, Any] | None:
        """Headers always (reason, origin); the event when the original bytes decode, else the reason why not."""
        event: dict[str, Any] | None = None
        error: str | None = None
        try:
            event = self.event_json(record.value or b"")
        except DecodeError as exc:
            error = str(exc)
        if self.event_type is not None and (event is None or event["event_type"] != self.event_type):
            return None
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        return {"headers": headers, "event": event, "error": error, "_kafka": kafka_json(record)}


def _json_value(value: Any, is_id: bool) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if is_id and isinstance(value, int):
        return str(value)
    if is_id and isinstance(value, list):
        return [str(v) for v in value]
    return value


class LineOut:
    """stdout for JSON lines that notices a reader going away (`| head`), so the tap can stop quietly."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.gone = False

    def write(self, lines: list[bytes]) -> bool:
        """False once the reader is gone; what was not read is dropped without a traceback."""
        if self.gone:
            return False
        try:
            self.stream.write(b"".join(lines))
            self.stream.flush()
        except BrokenPipeError:
            self._reader_gone()
        return not self.gone

    def _reader_gone(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError, ValueError):  # later flushes (at exit) go nowhere, quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)

    @contextlib.contextmanager
    def watch(self, stop: asyncio.Event) -> Iterator[None]:
        """While idle (following a quiet topic) a closed pipe shows only as an error event on its fd."""
        fd = self._pipe_fd()
        if fd is None:
            yield
            return
        loop = asyncio.get_running_loop()

        def closed() -> None:
            loop.remove_reader(fd)
            self._reader_gone()
            stop.set()

        loop.add_reader(fd, closed)  # a pipe's write end is never readable: this fires only on error/hangup
        try:
            yield
        finally:
            loop.remove_reader(fd)

    def _pipe_fd(self) -> int | None:
        try:
            fd = self.stream.fileno()
            return fd if stat.S_ISFIFO(os.fstat(fd).st_mode) else None
        except (OSError, ValueError):  # not a real file (tests' in-memory streams)
            return None


@dataclass(frozen=True)
class TapResult:
    printed: int
    undecodable: int


async def tap(
    settings: Settings,
    topic: Topic,
    *,
    from_beginning: bool,
    follow: bool,
    event_type: str | None,
    out: BinaryIO,
    err: TextIO,
) -> TapResult:
    """Prints the topic's events from the beginning or the end, to the end offsets now or forever."""
    check_type(topic, event_type)
    renderer = Renderer(topic, default_codec(), event_type, err)
    lines_out = LineOut(out)
    stop = asyncio.Event()
    printed = 0
    with stop_on_signals(stop), lines_out.watch(stop):
        async with TopicReader(settings, topic) as reader:
            spans = await reader.plan("beginning" if from_beginning else "end")
            err.write(banner(reader.name, spans, from_beginning, follow) + "\n")
            err.flush()
            async for records in reader.batches(follow, stop):
                lines = [line for r in records if (line := renderer.line(r)) is not None]
                if lines and not lines_out.write(lines):
                    break
                printed += len(lines)
    return TapResult(printed, renderer.undecodable)


def banner(name: str, spans: list[Span], from_beginning: bool, follow: bool) -> str:
    """What the tap is about to read (on stderr, so stdout stays pure JSON lines)."""
    where = f"tap {name} ({len(spans)} partitions)"
    if follow:
        return f"{where}: from the {'beginning' if from_beginning else 'end'}, following until Ctrl-C"
    if not from_beginning:
        return f"{where}: starting at the end without --follow, nothing to read (add --from-beginning or --follow)"
    return f"{where}: {sum(s.count for s in spans)} messages from the beginning to the end offsets now"
