"""docs/events.md is generated from the .avsc files; it must match them, and its decoding example must work."""

from __future__ import annotations

import io
import re
from pathlib import Path

import fastavro
import pytest

from schemas.codec import MAGIC, default_codec
from schemas.docs import DOC_PATH, render
from tests.unit.test_codec import SAMPLES


def test_events_doc_is_current() -> None:
    committed = DOC_PATH.read_text() if DOC_PATH.exists() else ""
    assert committed == render(), "docs/events.md does not match the .avsc files and schemas/topics.py: run `make docs`"


def test_every_schema_version_and_field_is_documented() -> None:
    text = render()
    for schema in default_codec().by_fingerprint.values():
        assert f"#### {schema.event_type} v{schema.version}" in text
        assert f"fingerprint `{schema.fingerprint.hex()}`" in text
        for field in schema.raw["fields"]:
            assert f"| `{field['name']}` |" in text


def _example() -> str:
    found: list[str] = re.findall(r"```python\n(.*?)```", render(), flags=re.S)
    (code,) = found
    return code


def test_the_decoding_example_reads_every_event_and_every_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """The snippet analysts copy: run it from the repository root against real encoded events."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    namespace: dict[str, object] = {}
    exec(compile(_example(), "docs/events.md", "exec"), namespace)
    decode = namespace["decode"]
    assert callable(decode)
    codec = default_codec()
    for event in SAMPLES:
        data = codec.encode(event)
        assert decode(data) == codec.decode_record(data)[0]
    v1 = next(s for s in codec.by_fingerprint.values() if s.event_type == "TweetPosted" and s.version == 1)
    record = {**codec.decode_record(codec.encode(SAMPLES[1]))[0], "schema_version": 1}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1.parsed, record)
    old = decode(MAGIC + v1.fingerprint + body.getvalue())
    assert old["schema_version"] == 1 and old["media"] == []  # resolved to v2, the default filled in
