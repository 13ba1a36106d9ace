"""Writes docs/events.md from the `.avsc` files and the topic registry: `python -m schemas.docs` (`make docs`).

Generated, not written by hand, so the reference cannot drift from the contract; a unit test regenerates
it in memory and fails when the committed file differs. Imports only `schemas`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from schemas.codec import ENVELOPE_FIELDS, HEADER_LEN, MAGIC, SchemaVersion, default_codec
from schemas.topics import DEAD_LETTERS, EVENT_TOPICS, Topic

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "events.md"

HEADER = """\
# Events

<!-- Generated from schemas/avro/*.avsc and schemas/topics.py by `make docs` (python -m schemas.docs).
     Do not edit: change the schemas or the registry and regenerate. -->

Every write in chirp is one immutable Avro event appended to a Kafka topic, the system of record.
Events are named in the past tense; each event type has one `.avsc` file per version in
`schemas/avro/`, and published versions never change. Kafka topic names are
`<CHIRP_TOPIC_PREFIX><topic>` (default prefix `chirp.`). To read them without writing code:
`chirp tap <topic>` prints JSON lines, `chirp export <topic> --out FILE.parquet` writes a table.
"""

FRAMING = f"""\
## Framing: Avro single-object encoding

Each message value is one event in the Avro specification's single-object encoding:

| bytes | content |
|---|---|
| 0-1 | the marker `{MAGIC.hex(" ").upper()}` |
| 2-{HEADER_LEN - 1} | the CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, \
little-endian (listed for every version below and in `schemas/avro/FINGERPRINTS`) |
| {HEADER_LEN}- | the Avro binary encoding of the record with that writer schema |

The message key is the decimal text of the topic's key field (see the table above), so one key's events
stay in order on one partition. A reader looks the fingerprint up among the `.avsc` files, decodes the
body with that writer schema and resolves it to the newest version of the same event type (Avro schema
resolution fills the defaults of fields added later). Java's `BinaryMessageDecoder` reads the same bytes.
Timestamps are `long` microseconds since the Unix epoch, UTC (`timestamp-micros`); ids are 64-bit
time-sortable integers.
"""

DECODING = """\
## Decoding with only the .avsc files

```python
import io
import json
from pathlib import Path

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

writers, newest = {}, {}  # fingerprint -> (event type, schema); event type -> (version, schema)
for path in Path("schemas/avro").glob("*.avsc"):
    raw = json.loads(path.read_text())
    schema = fastavro.parse_schema(raw, named_schemas={})
    writers[bytes.fromhex(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))] = (raw["name"], schema)
    if raw["chirp.version"] > newest.get(raw["name"], (0, None))[0]:
        newest[raw["name"]] = (raw["chirp.version"], schema)


def decode(value: bytes) -> dict:
    \"\"\"One Kafka message value -> the event as a dict, in the newest version of its type.\"\"\"
    if value[:2] != b"\\xc3\\x01":
        raise ValueError("not Avro single-object encoding")
    event_type, writer = writers[value[2:10]]  # KeyError: written with a schema you do not have
    return fastavro.schemaless_reader(io.BytesIO(value[10:]), writer, newest[event_type][1])
```
"""


def render() -> str:
    """The whole of docs/events.md."""
    codec = default_codec()
    versions: dict[str, list[SchemaVersion]] = {}
    for s in sorted(codec.by_fingerprint.values(), key=lambda s: -s.version):
        versions.setdefault(s.event_type, []).append(s)
    parts = [HEADER, _topics_table(), FRAMING, DECODING, "## Event types\n"]
    parts += [
        _event_section(cls.__name__, topic, versions[cls.__name__]) for topic in EVENT_TOPICS for cls in topic.events
    ]
    return "\n".join(parts)


def _topics_table() -> str:
    rows = ["## Topics\n", "| topic | key | events | |", "|---|---|---|---|"]
    for t in EVENT_TOPICS:
        events = ", ".join(f"[{c.__name__}](#{c.__name__.lower()})" for c in t.events)
        rows.append(f"| `{t.name}` | `{t.key_field}` | {events} | {_cell(t.doc)} |")
    rows.append(f"| `{DEAD_LETTERS.name}` | the original message's | any | {_cell(DEAD_LETTERS.doc)} |")
    return "\n".join(rows) + "\n"


def _event_section(name: str, topic: Topic, versions: list[SchemaVersion]) -> str:
    latest = versions[0]
    lines = [
        f"### {name}\n",
        f"{latest.raw.get('doc', '')}\n",
        f"Topic `{topic.name}`, key `{topic.key_field}`. Latest version: {latest.version}. "
        f"The envelope ({', '.join(f'`{f}`' for f in ENVELOPE_FIELDS)}) is the same in every event.\n",
    ]
    for i, version in enumerate(versions):
        older = versions[i + 1] if i + 1 < len(versions) else None
        lines.append(_version_section(version, older))
    return "\n".join(lines)


def _version_section(version: SchemaVersion, older: SchemaVersion | None) -> str:
    lines = [
        f"#### {version.event_type} v{version.version}\n",
        f"File `{version.path.name}`, fingerprint `{version.fingerprint.hex()}`.{_changes(version, older)}\n",
        *_fields_table(version.raw["fields"]),
    ]
    for record in _named_records(version.raw["fields"]):
        lines += ["", f"Record `{record['name']}`{': ' + record['doc'] if record.get('doc') else ''}\n"]
        lines += _fields_table(record["fields"])
    return "\n".join(lines) + "\n"


def _changes(version: SchemaVersion, older: SchemaVersion | None) -> str:
    if older is None:
        return ""
    before = {f["name"] for f in older.raw["fields"]}
    after = {f["name"] for f in version.raw["fields"]}
    added = [f"`{n}`" for n in sorted(after - before)]
    removed = [f"`{n}`" for n in sorted(before - after)]
    said = [f"adds {', '.join(added)}"] if added else []
    said += [f"removes {', '.join(removed)}"] if removed else []
    return f" Compared with v{older.version}: {'; '.join(said) or 'same fields, other types or defaults'}."


def _fields_table(fields: list[dict[str, Any]]) -> list[str]:
    rows = ["| field | Avro type | default | doc |", "|---|---|---|---|"]
    for f in fields:
        default = f"`{json.dumps(f['default'])}`" if "default" in f else "required"
        rows.append(f"| `{f['name']}` | `{type_text(f['type'])}` | {default} | {_cell(f.get('doc', ''))} |")
    return rows


def type_text(avro_type: Any) -> str:
    """An Avro type in one line: `union[null, long]`, `array<Media>`, `long (timestamp-micros)`."""
    if isinstance(avro_type, str):
        return avro_type
    if isinstance(avro_type, list):
        return f"union[{', '.join(type_text(t) for t in avro_type)}]"
    kind = avro_type["type"]
    if "logicalType" in avro_type:
        return f"{type_text(kind)} ({avro_type['logicalType']})"
    if kind == "array":
        return f"array<{type_text(avro_type['items'])}>"
    if kind == "map":
        return f"map<{type_text(avro_type['values'])}>"
    if kind == "enum":
        return f"enum {avro_type['name']} {{{', '.join(avro_type['symbols'])}}}"
    if kind in ("record", "fixed"):
        return str(avro_type["name"])
    return type_text(kind)


def _named_records(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records defined inside the fields' types (e.g. Media), documented below the table."""
    found: list[dict[str, Any]] = []

    def walk(t: Any) -> None:
        if isinstance(t, list):
            for branch in t:
                walk(branch)
        elif isinstance(t, dict):
            if t.get("type") == "record":
                found.append(t)
                for f in t["fields"]:
                    walk(f["type"])
            walk(t.get("items"))
            walk(t.get("values"))

    for f in fields:
        walk(f["type"])
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.docs", description=__doc__)
    parser.add_argument("--out", type=Path, default=DOC_PATH, help="where to write (default: docs/events.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs; write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
