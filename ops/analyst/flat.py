"""One flat record schema per topic, generated from the `.avsc` files, for files analysts open directly.

A topic carries several event types (tweets: posted, edited, deleted); a table wants one row shape. The
flat record has the envelope, then every payload field of every event type on the topic as a nullable
column (null where an event type has no such field), then where the event sits in Kafka. It is built from
the latest version of each event type, which is what the codec resolves every old event to, so a new
schema version or event type changes the columns without any code change here.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from ops.analyst import AnalystError
from schemas.codec import ENVELOPE_FIELDS, Codec
from schemas.topics import Topic

KAFKA_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "kafka_partition", "type": "int", "doc": "Kafka partition of the event."},
    {"name": "kafka_offset", "type": "long", "doc": "Offset of the event in its partition."},
    {
        "name": "kafka_timestamp",
        "type": {"type": "long", "logicalType": "timestamp-micros"},
        "doc": "Kafka's timestamp of the message (when it was appended), UTC.",
    },
)
_ARROW_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "boolean": pa.bool_(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
}
_ARROW_TIMESTAMPS: dict[str, pa.DataType] = {
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
}


def event_types(topic: Topic) -> tuple[str, ...]:
    """The event type names the registry puts on a topic."""
    return tuple(cls.__name__ for cls in topic.events)


def flat_schema(topic: Topic, codec: Codec) -> dict[str, Any]:
    """The topic's flat Avro record: envelope (required), payload fields (nullable), Kafka position."""
    if not topic.events:
        raise AnalystError(f"topic {topic.name} carries no event types; nothing to flatten")
    envelope: dict[str, dict[str, Any]] = {}
    payload: dict[str, dict[str, Any]] = {}
    carriers: dict[str, list[str]] = {}
    for name in event_types(topic):
        for field in codec.latest[name].raw["fields"]:
            into = envelope if field["name"] in ENVELOPE_FIELDS else payload
            _merge(into, field, name, topic)
            carriers.setdefault(field["name"], []).append(name)
    columns = [envelope[f] for f in ENVELOPE_FIELDS]
    columns += [_nullable(f, carriers[f["name"]]) for f in payload.values()]
    return {
        "type": "record",
        "name": f"{topic.name.title()}Row",
        "namespace": "chirp.export",
        "doc": f"One row per event of the {topic.name} topic ({', '.join(event_types(topic))}); "
        "generated from the .avsc files.",
        "fields": [*columns, *KAFKA_FIELDS],
    }


def _merge(into: dict[str, dict[str, Any]], field: dict[str, Any], event_type: str, topic: Topic) -> None:
    """Adds a field once; the same name with another type on one topic cannot share a column."""
    seen = into.get(field["name"])
    if seen is None:
        into[field["name"]] = field
    elif _shape(seen["type"]) != _shape(field["type"]):
        raise AnalystError(
            f"field {field['name']!r} has different types on topic {topic.name} "
            f"({event_type}: {json.dumps(field['type'])} vs {json.dumps(seen['type'])})"
        )


def _shape(avro_type: Any) -> Any:
    """A type without its docs, so that two fields differing only in documentation compare equal."""
    if isinstance(avro_type, dict):
        return {k: _shape(v) for k, v in avro_type.items() if k != "doc"}
    if isinstance(avro_type, list):
        return [_shape(t) for t in avro_type]
    return avro_type


def _nullable(field: dict[str, Any], carriers: list[str]) -> dict[str, Any]:
    """A payload field as a column: null first (the default), and which event types fill it."""
    branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
    avro_type = ["null", *(t for t in branches if t != "null")]
    doc = f"{field.get('doc', '')} [{', '.join(carriers)}]".strip()
    return {"name": field["name"], "type": avro_type, "default": None, "doc": doc}


def column_names(schema: dict[str, Any]) -> list[str]:
    return [f["name"] for f in schema["fields"]]


def arrow_schema(schema: dict[str, Any]) -> pa.Schema:
    """The Parquet (Arrow) equivalent of a flat Avro record: unions with null become nullable fields."""
    fields = [_arrow_field(f) for f in schema["fields"]]
    return pa.schema(fields, metadata={"avro.schema": json.dumps(schema), "pandas": _pandas_metadata(fields)})


def _pandas_metadata(fields: list[pa.Field]) -> str:
    """pandas reads a nullable int64 column as float64, which rounds ids past 2^53. This is the entry pyarrow
    writes for pandas' own nullable integers: with it `pd.read_parquet` gives Int64 (DuckDB, Spark ignore it)."""
    columns = [
        {"name": f.name, "field_name": f.name, "pandas_type": str(f.type), "numpy_type": str(f.type).title(),
         "metadata": None}
        for f in fields
        if f.nullable and pa.types.is_integer(f.type)
    ]  # fmt: skip
    return json.dumps({"index_columns": [], "column_indexes": [], "columns": columns})


def _arrow_field(field: dict[str, Any]) -> pa.Field:
    data_type, nullable = arrow_type(field["type"])
    return pa.field(field["name"], data_type, nullable=nullable)


def arrow_type(avro_type: Any) -> tuple[pa.DataType, bool]:
    """An Avro type as (Arrow type, nullable); records become structs, arrays lists, timestamps UTC."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise AnalystError(f"cannot map the union {json.dumps(avro_type)} to one column type")
        return arrow_type(branches[0])[0], "null" in avro_type
    if isinstance(avro_type, str):
        if avro_type not in _ARROW_PRIMITIVES:
            raise AnalystError(f"cannot map Avro type {avro_type!r} to a column (named types need their definition)")
        return _ARROW_PRIMITIVES[avro_type], False
    logical = avro_type.get("logicalType")
    if logical in _ARROW_TIMESTAMPS:
        return _ARROW_TIMESTAMPS[logical], False
    kind = avro_type["type"]
    if kind == "array":
        item, nullable = arrow_type(avro_type["items"])
        return pa.list_(pa.field("element", item, nullable=nullable)), False
    if kind == "record":
        return pa.struct([_arrow_field(f) for f in avro_type["fields"]]), False
    return arrow_type(kind)


def id_fields(raw: dict[str, Any]) -> frozenset[str]:
    """Top-level plain `long` fields (and arrays of them, e.g. mentions) of a schema: the 64-bit ids, which
    JSON output spells as strings."""
    return frozenset(f["name"] for f in raw["fields"] if _plain_long(f["type"]))


def _plain_long(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_plain_long(t) for t in avro_type if t != "null")
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        return _plain_long(avro_type["items"])
    return isinstance(avro_type, str) and avro_type == "long"
