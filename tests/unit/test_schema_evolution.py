"""Schema evolution: published schemas never change, and every new version reads every old one."""

from __future__ import annotations

import copy
import json
from dataclasses import fields
from itertools import combinations
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas.codec import SCHEMA_DIR, default_codec, load_schema_file
from schemas.events import EVENT_TYPES

LOCK = SCHEMA_DIR / "FINGERPRINTS"


def _parse(raw: dict[str, Any]) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(raw))


def compatible(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(_parse(reader), _parse(writer))
    return result.compatibility is SchemaCompatibilityType.compatible


def versions() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in sorted(default_codec().by_fingerprint.values(), key=lambda s: s.version):
        out.setdefault(s.event_type, []).append(s.raw)
    return out


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_newer_versions_read_older_data(event_type: str) -> None:
    for old, new in combinations(versions()[event_type], 2):
        assert compatible(new, old), f"{event_type} v{new['chirp.version']} cannot read v{old['chirp.version']}"


def test_checker_catches_a_breaking_change() -> None:
    """The guard itself must be able to fail: a new required field without default is incompatible."""
    old = versions()["TweetPosted"][-1]
    new = copy.deepcopy(old)
    new["chirp.version"] += 1
    new["fields"].append({"name": "language", "type": "string"})
    assert not compatible(new, old)
    retyped = copy.deepcopy(old)
    next(f for f in retyped["fields"] if f["name"] == "content")["type"] = "long"
    assert not compatible(retyped, old)


def test_published_schemas_are_immutable() -> None:
    """Editing a released .avsc in place breaks every reader of old data: add a new version instead.

    FINGERPRINTS records each published file; a new file must be appended there too.
    """
    recorded = dict(line.split() for line in LOCK.read_text().splitlines() if line and not line.startswith("#"))
    current = {p.name: load_schema_file(p).fingerprint.hex() for p in SCHEMA_DIR.glob("*.avsc")}
    assert recorded == current


def test_files_are_named_after_their_record_and_version() -> None:
    for path in SCHEMA_DIR.glob("*.avsc"):
        raw = json.loads(path.read_text())
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in raw["name"]).lstrip("_")
        assert path.name == f"{snake}.v{raw['chirp.version']}.avsc"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_classes_mirror_the_latest_schema(event_type: str) -> None:
    latest = default_codec().latest[event_type].raw
    envelope = ["event_id", "event_type", "schema_version", "occurred_at", "actor_id"]
    names = [f["name"] for f in latest["fields"]]
    assert names[:5] == envelope
    payload = [f.name for f in fields(EVENT_TYPES[event_type]) if f.name != "meta"]
    assert names[5:] == payload


def test_schema_dir_holds_only_schemas_and_the_lock() -> None:
    assert {p.suffix for p in Path(SCHEMA_DIR).iterdir()} <= {".avsc", ""}
