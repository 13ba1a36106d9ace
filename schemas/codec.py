"""Avro single-object encoding of events (the spec's `C3 01` + fingerprint + body framing).

Every message names its writer schema by the 8-byte CRC-64-AVRO fingerprint of the schema's
Parsing Canonical Form, so a consumer holding the `.avsc` files can decode every past version
(Java's `BinaryMessageDecoder` reads the same bytes). New events are written with the latest
version of their schema and decoded into the latest version, filling defaults for old data.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.events import EVENT_TYPES, Event, Media, Meta

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8
SCHEMA_DIR = Path(__file__).parent / "avro"
ENVELOPE_FIELDS = ("event_id", "event_type", "schema_version", "occurred_at", "actor_id")


class DecodeError(ValueError):
    """The bytes are not a chirp event this build can read (a poison message)."""


@dataclass(frozen=True)
class SchemaVersion:
    event_type: str
    version: int
    path: Path
    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes


def load_schema_file(path: Path) -> SchemaVersion:
    raw = json.loads(path.read_text())
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))
    parsed = fastavro.parse_schema(raw, named_schemas={})
    return SchemaVersion(raw["name"], int(raw["chirp.version"]), path, raw, parsed, fp)


class Codec:
    """Encodes and decodes events against a set of `.avsc` files."""

    def __init__(self, schemas: Iterable[SchemaVersion]) -> None:
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        self.latest: dict[str, SchemaVersion] = {}
        for s in schemas:
            if s.fingerprint in self.by_fingerprint:
                raise ValueError(f"{s.path} has the same canonical form as {self.by_fingerprint[s.fingerprint].path}")
            self.by_fingerprint[s.fingerprint] = s
            if s.event_type not in self.latest or s.version > self.latest[s.event_type].version:
                self.latest[s.event_type] = s
        missing = set(EVENT_TYPES) - set(self.latest)
        if missing:
            raise ValueError(f"no schema for event types {sorted(missing)}")

    @classmethod
    def from_directory(cls, directory: Path = SCHEMA_DIR) -> Codec:
        return cls(load_schema_file(p) for p in sorted(directory.glob("*.avsc")))

    def encode(self, event: Event) -> bytes:
        schema = self.latest[type(event).__name__]
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(schema.fingerprint)
        fastavro.schemaless_writer(buf, schema.parsed, to_record(event, schema.version))
        return buf.getvalue()

    def decode(self, data: bytes) -> Event:
        record, _ = self.decode_record(data)
        return from_record(record)

    def decode_record(self, data: bytes) -> tuple[dict[str, Any], SchemaVersion]:
        """The raw Avro record (resolved to the latest schema) and the writer schema."""
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError("not an Avro single-object encoded message")
        writer = self.by_fingerprint.get(data[2:HEADER_LEN])
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {data[2:HEADER_LEN].hex()}")
        reader = self.latest[writer.event_type]
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(data[HEADER_LEN:]),
                writer.parsed,
                None if reader is writer else reader.parsed,
            )
        except Exception as exc:  # fastavro raises several types for corrupt bodies
            raise DecodeError(f"corrupt {writer.event_type} v{writer.version} body: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError("decoded body is not a record")
        return record, writer


@cache
def default_codec() -> Codec:
    return Codec.from_directory()


def to_record(event: Event, version: int) -> dict[str, Any]:
    meta = event.meta
    record: dict[str, Any] = {
        "event_id": meta.event_id,
        "event_type": type(event).__name__,
        "schema_version": version,
        "occurred_at": meta.occurred_at,
        "actor_id": meta.actor_id,
    }
    for f in _payload_fields(type(event)):
        value = getattr(event, f)
        if f == "media":
            value = [media_record(m) for m in value]
        elif f == "mentions":
            value = list(value)
        record[f] = value
    return record


def media_record(m: Media) -> dict[str, Any]:
    """A Media as the Avro record (and the JSON the read models cache) has it."""
    return {"url": m.url, "type": m.type, "alt_text": m.alt_text, "size_bytes": m.size_bytes, "key": m.key}


def from_record(record: dict[str, Any]) -> Event:
    cls = EVENT_TYPES.get(record.get("event_type", ""))
    if cls is None:
        raise DecodeError(f"unknown event type {record.get('event_type')!r}")
    meta = Meta(record["event_id"], record["occurred_at"], record["actor_id"])
    payload = {f: record[f] for f in _payload_fields(cls)}
    if "media" in payload:
        payload["media"] = tuple(Media(**m) for m in payload["media"])
    if "mentions" in payload:
        payload["mentions"] = tuple(payload["mentions"])
    return cls(meta, **payload)


_PAYLOAD_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls) if f.name != "meta") for name, cls in EVENT_TYPES.items()
}


def _payload_fields(cls: type) -> tuple[str, ...]:
    return _PAYLOAD_FIELDS[cls.__name__]
