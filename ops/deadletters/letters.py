"""Dead letters as data: ids, headers, requeue records, the event inside, and choosing what to requeue.
Pure functions, unit-tested without services; see ops/deadletters/__init__.py for the model."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.settings import Settings
from schemas.codec import Codec, DecodeError, from_record
from schemas.topics import EVENT_TOPICS

UNDECODABLE = "undecodable"
_PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")


class DeadLetterError(RuntimeError):
    """An operator-facing failure: the message says what happened and what to do."""


# --- ids, headers, records (pure) ---------------------------------------------------------------


@dataclass(frozen=True, order=True)
class LetterId:
    """Where a dead letter sits in the dead-letter topic."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> LetterId:
        partition, sep, offset = text.strip().partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise ValueError(f"{text!r} is not a dead-letter id; ids look like 3:17 (partition:offset)")
        return cls(int(partition), int(offset))


@dataclass(frozen=True)
class Position:
    """A message's place in a topic, written `topic:partition@offset`."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}@{self.offset}"


@dataclass(frozen=True)
class DeadLetter:
    id: LetterId
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int = 0  # when Kafka appended it; stands in for a missing failed_at header

    def header(self, name: str) -> bytes | None:
        """The last value of a header (Kafka allows repeats; the worker writes each once)."""
        found = [v for k, v in self.headers if k == name]
        return found[-1] if found else None

    @property
    def reason(self) -> str:
        raw = self.header("reason")
        return raw.decode("utf-8", "replace") if raw is not None else "(no reason header)"

    @property
    def origin(self) -> Position | None:
        return parse_origin(self.header("origin_topic"), self.header("origin_partition"), self.header("origin_offset"))

    @property
    def failed_at(self) -> datetime:
        parsed = parse_failed_at(self.header("failed_at"))
        return parsed or datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


def parse_origin(topic: bytes | None, partition: bytes | None, offset: bytes | None) -> Position | None:
    """The origin headers as a position, or None when one is missing or malformed."""
    if topic is None or partition is None or offset is None:
        return None
    try:
        return Position(topic.decode(), int(partition), int(offset))
    except (UnicodeDecodeError, ValueError):
        return None


def parse_failed_at(raw: bytes | None) -> datetime | None:
    """The worker writes `time.time()` as text; ISO text is accepted too, for other writers."""
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace").strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Requeue:
    """The record that a dead letter was sent back: where the copy landed and when."""

    to: Position
    at: datetime

    def encode(self) -> bytes:
        to = self.to
        return json.dumps(
            {"topic": to.topic, "partition": to.partition, "offset": to.offset, "requeued_at": iso(self.at)}
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> Requeue:
        """Raises ValueError on anything this module did not write."""
        try:
            d = json.loads(data)
            at = datetime.fromisoformat(d["requeued_at"].replace("Z", "+00:00"))
            return cls(Position(str(d["topic"]), int(d["partition"]), int(d["offset"])), at)
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a requeue record: {data[:80]!r}") from exc


def requeue_records(records: Iterable[tuple[bytes | None, bytes | None, int]]) -> dict[LetterId, Requeue]:
    """Folds (key, value, timestamp ms) in log order the way compaction does: the last value per key wins.

    An unreadable value still counts as requeued (destination unknown): at most once matters more.
    A tombstone (None) forgets the record, which is how an operator would deliberately allow a retry.
    """
    done: dict[LetterId, Requeue] = {}
    for key, value, ts in records:
        if key is None:
            continue
        try:
            letter = LetterId.parse(key.decode("utf-8", "replace"))
        except ValueError:
            continue
        if value is None:
            done.pop(letter, None)
            continue
        try:
            done[letter] = Requeue.decode(value)
        except ValueError:
            done[letter] = Requeue(Position("(unreadable record)", -1, -1), datetime.fromtimestamp(ts / 1000, UTC))
    return done


# --- the event inside (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    event_type: str
    version: int
    record: dict[str, Any]


def decode(codec: Codec, value: bytes) -> Decoded | DecodeError:
    """The event in a dead letter, or why it does not decode (the worker's own test: DecodeError)."""
    try:
        record, writer = codec.decode_record(value)
        from_record(record)
    except DecodeError as exc:
        return exc
    return Decoded(writer.event_type, writer.version, record)


def event_type(codec: Codec, value: bytes) -> str:
    got = decode(codec, value)
    return got.event_type if isinstance(got, Decoded) else UNDECODABLE


def text_or_hex(data: bytes | None) -> str:
    """Keys and header values: as text when they are printable UTF-8, else as hex."""
    if data is None:
        return "(none)"
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return "0x" + data.hex()
    return text if all(c in _PRINTABLE or ord(c) > 127 for c in text) else "0x" + data.hex()


def matches(letter: DeadLetter, reason: str | None, key: str | None) -> bool:
    """The list/requeue filters: a case-insensitive substring of the reason; the exact key text."""
    if reason is not None and reason.lower() not in letter.reason.lower():
        return False
    return key is None or (letter.key is not None and text_or_hex(letter.key) == key)


def in_order(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """Oldest first, as they were dead-lettered."""
    return sorted(letters, key=lambda d: (d.failed_at, d.id))


# --- choosing what to requeue (pure) ------------------------------------------------------------


def resolve(text: str, letters: Sequence[DeadLetter]) -> DeadLetter:
    """`3:17`, or a bare offset when only one partition has a dead letter there."""
    if text.strip().isdigit():
        found = [d for d in letters if d.id.offset == int(text)]
        if len(found) > 1:
            ids = ", ".join(str(d.id) for d in found)
            raise DeadLetterError(f"offset {text} is ambiguous (the topic has several partitions): use one of {ids}")
    else:
        try:
            wanted = LetterId.parse(text)
        except ValueError as exc:
            raise DeadLetterError(str(exc)) from None
        found = [d for d in letters if d.id == wanted]
    if not found:
        raise DeadLetterError(f"no dead letter {text}; `chirp dlq list` shows their ids")
    return found[0]


def refusal(letter: DeadLetter, settings: Settings) -> str | None:
    """Why a dead letter cannot be sent back, or None. Only to this deployment's event topics."""
    origin = letter.origin
    if origin is None:
        return "its origin headers are missing or malformed"
    allowed = {t.kafka_name(settings.topic_prefix) for t in EVENT_TOPICS}
    if origin.topic not in allowed:
        return f"its origin {origin.topic} is not an event topic of this deployment ({', '.join(sorted(allowed))})"
    return None


@dataclass
class Plan:
    send: list[DeadLetter] = field(default_factory=list)
    already: list[tuple[DeadLetter, Requeue]] = field(default_factory=list)
    refused: list[tuple[DeadLetter, str]] = field(default_factory=list)


def plan(chosen: Iterable[DeadLetter], done: dict[LetterId, Requeue], settings: Settings) -> Plan:
    """Splits a selection into what to send (in dead-letter order), what was sent before, what cannot go."""
    out = Plan()
    for letter in in_order({d.id: d for d in chosen}.values()):
        if letter.id in done:
            out.already.append((letter, done[letter.id]))
        elif (why := refusal(letter, settings)) is not None:
            out.refused.append((letter, why))
        else:
            out.send.append(letter)
    return out
