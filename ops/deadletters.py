"""Dead letters for operators: read the dead-letter topic, decode what it holds, and requeue it.

A dead letter is named by where it sits in the dead-letter topic, `<partition>:<offset>` (the topic
has several partitions, so an offset alone is not unique). Requeueing sends its original key and
bytes back to its origin topic and then records, in the compacted topic `DEAD_LETTER_REQUEUES`
(key: the dead letter's id, value: where the copy went), that it was sent. The record lives in the
event log beside the dead letters because it must outlive restarts, Redis rebuilds into a new
prefix and operators on other machines, exactly as long as the dead letters themselves do.

Formatting and parsing are pure functions (unit-tested without services); Kafka I/O is at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.settings import Settings
from schemas.codec import Codec, DecodeError, from_record
from schemas.topics import DEAD_LETTER_REQUEUES, DEAD_LETTERS, EVENT_TOPICS

UNDECODABLE = "undecodable"
REASON_WIDTH = 60
HEXDUMP_BYTES = 256
READ_DEADLINE_S = 120.0
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


# --- decoding and formatting (pure) -------------------------------------------------------------


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


def _json_ready(name: str, value: Any) -> Any:
    """Ids become strings (64-bit ids lose digits in JavaScript), times ISO text; the API does the same."""
    if isinstance(value, int) and not isinstance(value, bool) and (name.endswith("_id") or name == "reply_to"):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _json_ready(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(name, v) for v in value]
    return value


def event_json(decoded: Decoded) -> str:
    return json.dumps(_json_ready("", decoded.record), indent=2, ensure_ascii=False)


def hexdump(data: bytes, limit: int = HEXDUMP_BYTES) -> str:
    """`xxd`-style lines of the first `limit` bytes, with a note when there are more."""
    lines = []
    for start in range(0, min(len(data), limit), 16):
        chunk = data[start : start + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:08x}  {left:<23}  {right:<23}  |{text}|")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit} more bytes")
    return "\n".join(lines) if lines else "(empty)"


def text_or_hex(data: bytes | None) -> str:
    """Keys and header values: as text when they are printable UTF-8, else as hex."""
    if data is None:
        return "(none)"
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return "0x" + data.hex()
    return text if all(c in _PRINTABLE or ord(c) > 127 for c in text) else "0x" + data.hex()


def truncate(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def matches(letter: DeadLetter, reason: str | None, key: str | None) -> bool:
    """The list/requeue filters: a case-insensitive substring of the reason; the exact key text."""
    if reason is not None and reason.lower() not in letter.reason.lower():
        return False
    return key is None or (letter.key is not None and text_or_hex(letter.key) == key)


def in_order(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """Oldest first, as they were dead-lettered."""
    return sorted(letters, key=lambda d: (d.failed_at, d.id))


LIST_COLUMNS = ("ID", "FAILED AT (UTC)", "ORIGIN", "EVENT", "REQUEUED", "REASON")


def list_rows(letters: Sequence[DeadLetter], done: dict[LetterId, Requeue], codec: Codec) -> list[tuple[str, ...]]:
    return [
        (
            str(d.id),
            iso(d.failed_at),
            str(d.origin) if d.origin else "(unknown)",
            event_type(codec, d.value),
            "yes" if d.id in done else "no",
            truncate(d.reason, REASON_WIDTH),
        )
        for d in letters
    ]


def table(rows: Sequence[tuple[str, ...]], columns: tuple[str, ...] = LIST_COLUMNS) -> list[str]:
    """Left-aligned columns as wide as their widest cell; the last one is not padded."""
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns) - 1)]
    return [
        ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]).rstrip()
        for r in [columns, *rows]
    ]


def summary(matching: int, requeued: int, shown: int, filtered: bool) -> str:
    what = "dead letter" if matching == 1 else "dead letters"
    text = f"{matching} {what}{' match' if filtered else ''} ({requeued} requeued, {matching - requeued} not)"
    if shown < matching:
        text += f"; showing the newest {shown} (--limit 0 shows all)"
    return text


def requeued_text(letter: DeadLetter, done: Requeue) -> str:
    """One line per send; says so when the key routed it elsewhere than it came from (partitions changed?)."""
    text = f"requeued {letter.id} as {done.to}"
    origin = letter.origin
    if origin is not None and (origin.topic, origin.partition) != (done.to.topic, done.to.partition):
        text += f" (its key routes it there; it came from {origin})"
    return text


def already_text(letter: DeadLetter, done: Requeue) -> str:
    return f"{letter.id} already requeued at {iso(done.at)} as {done.to}; nothing sent"


def show_text(letter: DeadLetter, done: Requeue | None, codec: Codec, dead_letter_topic: str) -> str:
    """Everything about one dead letter, for `chirp dlq show`."""
    lines = [
        f"dead letter {letter.id} in {dead_letter_topic}",
        f"failed at  {iso(letter.failed_at)}",
        f"origin     {letter.origin or '(unknown: origin headers missing)'}",
        f"reason     {letter.reason}",
        f"requeued   {f'at {iso(done.at)} as {done.to}' if done else 'no'}",
        f"key        {text_or_hex(letter.key)}",
        "headers",
        *(f"  {name:<17} {text_or_hex(value)}" for name, value in letter.headers),
    ]
    got = decode(codec, letter.value)
    if isinstance(got, Decoded):
        lines += [f"event      {got.event_type} (schema v{got.version}, {len(letter.value)} bytes)", event_json(got)]
    else:
        lines += [f"event      {UNDECODABLE} ({len(letter.value)} bytes): {got}", hexdump(letter.value)]
    return "\n".join(lines)


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


# --- Kafka --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The dead letters and requeue records as they are now."""

    letters: list[DeadLetter]
    done: dict[LetterId, Requeue]


async def read_snapshot(settings: Settings) -> Snapshot:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, client_id="chirp-dlq"
    )
    try:
        await consumer.start()
        letters = await _read_to_end(consumer, DEAD_LETTERS.kafka_name(settings.topic_prefix))
        records = await _read_to_end(consumer, DEAD_LETTER_REQUEUES.kafka_name(settings.topic_prefix))
    except DeadLetterError:
        raise
    except Exception as exc:  # aiokafka raises many types for an unreachable cluster
        raise DeadLetterError(
            f"cannot read from Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 5)
    return Snapshot(
        [
            DeadLetter(LetterId(r.partition, r.offset), r.key, r.value or b"", tuple(r.headers), r.timestamp)
            for r in letters
        ],
        requeue_records((r.key, r.value, r.timestamp) for r in records),
    )


async def _read_to_end(consumer: Any, topic: str) -> list[Any]:
    """Every record of a topic from its beginning up to its end offsets as of now, in log order per partition."""
    from aiokafka import TopicPartition

    if topic not in await consumer.topics():
        raise DeadLetterError(f"topic {topic} does not exist; run `chirp migrate`")
    await consumer._client._wait_on_metadata(topic)  # as infra/offsets.py: fills partitions_for_topic
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    end = await consumer.end_offsets(parts)
    remaining = {tp for tp in parts if await consumer.position(tp) < end[tp]}
    out: list[Any] = []
    deadline = asyncio.get_running_loop().time() + READ_DEADLINE_S
    while remaining:
        if asyncio.get_running_loop().time() > deadline:
            raise DeadLetterError(f"reading {topic} did not reach its end within {READ_DEADLINE_S:.0f}s")
        batch = await consumer.getmany(*remaining, timeout_ms=500)
        for tp, records in batch.items():
            out += [r for r in records if r.offset < end[tp]]
        remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    return out


class SendFailed(DeadLetterError):
    """Kafka did not acknowledge the resent event: nothing recorded, so a later requeue may try again."""


class RecordFailed(DeadLetterError):
    """The event was resent but the record of it was not written: a second requeue would send it again."""


class Requeuer:
    """Sends dead letters back through one idempotent, acks=all producer (the API's settings).

    Each send is recorded only after Kafka acknowledged it, so nothing is lost; if the record write
    then fails, a later requeue sends the event a second time. That duplicate is harmless because
    every projection write is idempotent (and timestamped by the event time), exactly as for the
    worker's own at-least-once redeliveries. The same holds for two operators requeueing the same
    dead letter at the same moment: the check before sending is not a lock, so both may send it.
    """

    def __init__(self, settings: Settings) -> None:
        from aiokafka import AIOKafkaProducer

        self.settings = settings
        self.timeout_s = settings.kafka_send_timeout_ms / 1000
        self.records_topic = DEAD_LETTER_REQUEUES.kafka_name(settings.topic_prefix)
        self.dead_letter_topic = DEAD_LETTERS.kafka_name(settings.topic_prefix)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
            request_timeout_ms=settings.kafka_send_timeout_ms,
            client_id="chirp-dlq",
        )

    async def __aenter__(self) -> Requeuer:
        try:
            await asyncio.wait_for(self.producer.start(), self.timeout_s)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), 1)
            raise DeadLetterError(f"cannot reach Kafka at {self.settings.kafka_bootstrap}: {exc!r}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.producer.stop(), self.timeout_s)

    async def requeue(self, letter: DeadLetter) -> Requeue:
        """Sends one dead letter back (its key picks the partition, as for every event), then records it."""
        origin = letter.origin
        assert origin is not None, "plan() refuses dead letters without an origin"
        trace = [("requeued_from", f"{self.dead_letter_topic}:{letter.id.partition}@{letter.id.offset}".encode())]
        partition = origin.partition if letter.key is None else None
        try:
            meta = await asyncio.wait_for(
                self.producer.send_and_wait(
                    origin.topic, letter.value, key=letter.key, partition=partition, headers=trace
                ),
                self.timeout_s,
            )
        except Exception as exc:
            raise SendFailed(
                f"{letter.id}: Kafka did not acknowledge the resent event ({exc!r}); not recorded as requeued. "
                "It may still arrive; requeueing again is safe (projections are idempotent)."
            ) from exc
        done = Requeue(Position(meta.topic, meta.partition, meta.offset), datetime.now(UTC))
        try:
            await asyncio.wait_for(
                self.producer.send_and_wait(self.records_topic, done.encode(), key=str(letter.id).encode()),
                self.timeout_s,
            )
        except Exception as exc:
            raise RecordFailed(
                f"{letter.id} was resent as {done.to}, but recording that failed ({exc!r}). Requeueing it again "
                "would send a second copy (harmless: projections are idempotent, but not needed)."
            ) from exc
        return done
