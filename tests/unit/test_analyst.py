"""The analysts' tools without Kafka: time parsing, the flat schema, JSON lines, the file writers, CLI checks."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aiokafka import ConsumerRecord
from click.testing import CliRunner

from ops.analyst import AnalystError, iso, parse_time
from ops.analyst.export import AvroSink, ParquetSink, RowBuilder, Window, format_of
from ops.analyst.flat import arrow_schema, column_names, flat_schema, id_fields
from ops.analyst.tap import Renderer
from ops.cli import main
from schemas.codec import SCHEMA_DIR, Codec, default_codec
from schemas.events import Media, Meta, TweetDeleted, TweetEdited, TweetPosted, UserFollowed
from schemas.topics import DEAD_LETTERS, EVENT_TOPICS, LIKES, TWEETS, USERS
from tests.unit.test_codec import SAMPLES

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def record(value: bytes | None, partition: int = 1, offset: int = 7, headers: Any = ()) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t.tweets", partition, offset, 1767323045678, 0, b"42", value, None, 2, 0, list(headers))


# --- time ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:30", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("2026-01-31T12:30:00Z", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("2026-01-31T12:30:00.250+02:00", datetime(2026, 1, 31, 10, 30, 0, 250_000, tzinfo=UTC)),
        (" 2026-01-31 12:30:00 ", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_and_utc_unless_zoned(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "31/01/2026", ""])
def test_bad_times_say_what_is_expected(text: str) -> None:
    with pytest.raises(AnalystError, match="ISO-8601 date or datetime"):
        parse_time(text)


def test_iso_output_is_fixed_width_utc() -> None:
    assert iso(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000000Z"
    assert iso(datetime(2026, 1, 2, 1, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-02T00:00:00.000000Z"


# --- the flat schema ----------------------------------------------------------------------------------------


def test_tweets_flatten_to_envelope_then_every_payload_field_then_kafka() -> None:
    schema = flat_schema(TWEETS, default_codec())
    assert column_names(schema) == [
        *("event_id", "event_type", "schema_version", "occurred_at", "actor_id"),
        *("tweet_id", "author_id", "content", "reply_to", "media", "mentions"),
        *("kafka_partition", "kafka_offset", "kafka_timestamp"),
    ]
    by_name = {f["name"]: f for f in schema["fields"]}
    assert by_name["occurred_at"]["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert by_name["actor_id"]["type"] == "long"  # the envelope is in every event: required
    assert by_name["reply_to"]["type"] == ["null", "long"]  # already nullable: not wrapped twice
    assert by_name["content"]["type"] == ["null", "string"] and by_name["content"]["default"] is None
    media = by_name["media"]["type"]
    assert media[0] == "null" and media[1]["type"] == "array" and media[1]["items"]["name"] == "Media"
    assert by_name["content"]["doc"].endswith("[TweetPosted, TweetEdited]")
    assert by_name["tweet_id"]["doc"].endswith("[TweetPosted, TweetEdited, TweetDeleted]")


@pytest.mark.parametrize("topic", EVENT_TOPICS, ids=lambda t: t.name)
def test_every_event_topic_flattens_to_a_valid_avro_and_arrow_schema(topic: Any) -> None:
    schema = flat_schema(topic, default_codec())
    fastavro.parse_schema(schema)
    assert arrow_schema(schema).names == column_names(schema)


def _schema_dir_with(tmp_path: Path, name: str, raw: dict[str, Any]) -> Path:
    shutil.copytree(SCHEMA_DIR, tmp_path / "avro")
    (tmp_path / "avro" / name).write_text(json.dumps(raw))
    return tmp_path / "avro"


def test_a_new_schema_version_flows_into_the_columns(tmp_path: Path) -> None:
    v3 = json.loads((SCHEMA_DIR / "tweet_posted.v2.avsc").read_text())
    v3["chirp.version"] = 3
    v3["fields"].append({"name": "language", "type": ["null", "string"], "default": None, "doc": "BCP 47 tag."})
    codec = Codec.from_directory(_schema_dir_with(tmp_path, "tweet_posted.v3.avsc", v3))
    schema = flat_schema(TWEETS, codec)
    assert column_names(schema)[-4:] == ["language", "kafka_partition", "kafka_offset", "kafka_timestamp"]
    assert arrow_schema(schema).field("language").type == pa.string()


def test_one_name_with_two_types_on_a_topic_is_refused(tmp_path: Path) -> None:
    v2 = json.loads((SCHEMA_DIR / "tweet_edited.v1.avsc").read_text())
    v2["chirp.version"] = 2
    next(f for f in v2["fields"] if f["name"] == "content")["type"] = "long"
    codec = Codec.from_directory(_schema_dir_with(tmp_path, "tweet_edited.v2.avsc", v2))
    with pytest.raises(AnalystError, match="'content' has different types on topic tweets"):
        flat_schema(TWEETS, codec)


def test_arrow_schema_uses_utc_microseconds_and_lists_of_structs() -> None:
    schema = arrow_schema(flat_schema(TWEETS, default_codec()))
    assert schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert not schema.field("occurred_at").nullable
    assert schema.field("kafka_timestamp").type == pa.timestamp("us", tz="UTC")
    media = schema.field("media")
    assert media.nullable and pa.types.is_list(media.type) and pa.types.is_struct(media.type.value_type)
    assert media.type.value_type.field("size_bytes").type == pa.int64()
    assert schema.field("reply_to").type == pa.int64() and schema.field("reply_to").nullable
    pandas_columns = json.loads(schema.metadata[b"pandas"])["columns"]
    assert {c["name"]: c["numpy_type"] for c in pandas_columns} == {
        "tweet_id": "Int64",
        "author_id": "Int64",
        "reply_to": "Int64",
    }


def test_ids_are_the_top_level_plain_longs() -> None:
    codec = default_codec()
    assert id_fields(codec.latest["TweetPosted"].raw) == {"actor_id", "tweet_id", "author_id", "reply_to", "mentions"}
    assert id_fields(codec.latest["UserFollowed"].raw) == {"actor_id", "follower_id", "followee_id"}


# --- tap: one JSON line per event ---------------------------------------------------------------------------


def test_a_tapped_event_has_its_fields_ids_as_strings_and_where_it_sits() -> None:
    codec = default_codec()
    big = 383041568811982848  # past 2^53: would be rounded as a JSON number
    media = (Media("https://cdn.example/a.jpg", "image", "a cat", 2048),)
    event = TweetPosted(Meta("e-1", T0, big), big + 1, big, "hi ✨ @x", big - 5, media, (big + 2,))
    line = Renderer(TWEETS, codec, None, io.StringIO()).line(record(codec.encode(event)))
    assert line is not None and line.endswith(b"\n")
    assert orjson.loads(line) == {
        "event_id": "e-1",
        "event_type": "TweetPosted",
        "schema_version": 3,
        "occurred_at": "2026-01-02T03:04:05.678901Z",
        "actor_id": str(big),
        "tweet_id": str(big + 1),
        "author_id": str(big),
        "content": "hi ✨ @x",
        "reply_to": str(big - 5),
        "media": [
            {"url": "https://cdn.example/a.jpg", "type": "image", "alt_text": "a cat", "size_bytes": 2048, "key": None}
        ],
        "mentions": [str(big + 2)],  # ids in a list are strings too
        "_kafka": {"partition": 1, "offset": 7, "timestamp": "2026-01-02T03:04:05.678000Z", "key": "42"},
    }


def test_type_filter_and_undecodable_messages_go_to_stderr() -> None:
    codec = default_codec()
    err = io.StringIO()
    renderer = Renderer(TWEETS, codec, "TweetEdited", err)
    assert renderer.line(record(codec.encode(TweetEdited(Meta("e", T0, 1), 2, 1, "x")))) is not None
    assert renderer.line(record(codec.encode(TweetDeleted(Meta("e", T0, 1), 2, 1)))) is None
    assert renderer.line(record(b"\xc3\x01" + b"\0" * 8 + b"junk", partition=3, offset=99)) is None
    assert renderer.line(record(None, partition=3, offset=100)) is None
    assert renderer.undecodable == 2
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("undecodable message at partition 3 offset 99: unknown writer schema fingerprint")
    assert lines[1].startswith("undecodable message at partition 3 offset 100: not an Avro single-object")


def test_a_dead_letter_shows_its_headers_and_the_event_when_it_decodes() -> None:
    codec = default_codec()
    renderer = Renderer(DEAD_LETTERS, codec, None, io.StringIO())
    headers = [("reason", b"rule: edit of tweet 2 by 9: not its author"), ("origin_offset", b"12")]
    forged = codec.encode(TweetEdited(Meta("e", T0, 9), 2, 1, "forged"))
    decoded = orjson.loads(renderer.line(record(forged, headers=headers)) or b"")
    assert decoded["headers"] == {"reason": "rule: edit of tweet 2 by 9: not its author", "origin_offset": "12"}
    assert decoded["event"]["content"] == "forged" and decoded["event"]["actor_id"] == "9"
    assert decoded["error"] is None
    garbage = orjson.loads(renderer.line(record(b"not avro", headers=headers)) or b"")
    assert garbage["event"] is None and "single-object" in garbage["error"]
    only_posts = Renderer(DEAD_LETTERS, codec, "TweetPosted", io.StringIO())
    assert only_posts.line(record(forged, headers=headers)) is None
    assert only_posts.line(record(b"not avro", headers=headers)) is None


# --- export: rows and files ---------------------------------------------------------------------------------


def _rows(topic: Any, window: Window | None = None) -> list[dict[str, Any]]:
    codec = default_codec()
    builder = RowBuilder(topic, codec, flat_schema(topic, codec), window or Window(), lambda _: None)
    events = [e for e in SAMPLES if type(e) in topic.events]
    hourly = [replace(e, meta=replace(e.meta, occurred_at=T0 + timedelta(hours=i))) for i, e in enumerate(events)]
    return [r for i, e in enumerate(hourly) if (r := builder.row(record(codec.encode(e), offset=i))) is not None]


def test_rows_fill_the_columns_of_their_type_and_leave_the_rest_null() -> None:
    rows = _rows(TWEETS)
    assert [r["event_type"] for r in rows] == ["TweetPosted"] * 3 + ["TweetEdited", "TweetDeleted"]
    edited, deleted = rows[3], rows[4]
    assert edited["content"] == "edited text" and edited["reply_to"] is None and edited["media"] is None
    assert deleted["content"] is None and deleted["tweet_id"] == 1001
    cat = {"url": "https://cdn.example/a.jpg", "type": "image", "alt_text": "a cat", "size_bytes": 2048, "key": None}
    assert rows[1]["media"] == [cat]
    assert rows[0]["media"] == []  # posted without media: an empty list, not "no such field"
    assert rows[0]["kafka_timestamp"] == 1767323045678000 and rows[4]["kafka_offset"] == 4


def test_rows_outside_since_until_are_left_out() -> None:
    window = Window(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [r["occurred_at"] for r in _rows(TWEETS, window)] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]


def test_rows_of_another_topic_or_undecodable_are_skipped_and_reported() -> None:
    codec = default_codec()
    reported: list[str] = []
    builder = RowBuilder(TWEETS, codec, flat_schema(TWEETS, codec), Window(), reported.append)
    assert builder.row(record(codec.encode(UserFollowed(Meta("e", T0, 1), 1, 2)))) is None
    assert builder.row(record(b"garbage", offset=8)) is None
    assert builder.skipped == 2
    assert reported[0] == "skipped message at partition 1 offset 7: UserFollowed does not belong on this topic"
    assert reported[1].startswith("skipped message at partition 1 offset 8: not an Avro")


def test_parquet_file_has_row_groups_and_reads_back_in_pandas_exactly(tmp_path: Path) -> None:
    rows = _rows(TWEETS)
    sink = ParquetSink(tmp_path / "t.parquet", flat_schema(TWEETS, default_codec()), row_group=2)
    sink.write(rows[:3])
    sink.write(rows[3:])
    sink.close()
    assert pq.ParquetFile(tmp_path / "t.parquet").metadata.num_row_groups == 3
    df = pd.read_parquet(tmp_path / "t.parquet")
    assert len(df) == len(rows)
    assert str(df["occurred_at"].dtype) == "datetime64[us, UTC]" and str(df["reply_to"].dtype) == "Int64"
    back = df.astype(object).where(df.notna(), None).to_dict("records")
    for got, want in zip(back, rows, strict=True):
        assert got["occurred_at"].to_pydatetime() == want["occurred_at"]
        assert got["reply_to"] == want["reply_to"] and got["content"] == want["content"]
        assert got["kafka_timestamp"].value // 1000 == want["kafka_timestamp"]
        media = None if got["media"] is None else [dict(m) for m in got["media"]]
        assert media == want["media"]


def test_avro_file_reads_back_in_fastavro_exactly(tmp_path: Path) -> None:
    rows = _rows(LIKES)
    sink = AvroSink(tmp_path / "l.avro", flat_schema(LIKES, default_codec()))
    sink.write(rows)
    sink.close()
    with (tmp_path / "l.avro").open("rb") as f:
        reader = fastavro.reader(f)
        back = list(reader)
        assert reader.writer_schema is not None
    expected = [{**r, "kafka_timestamp": datetime.fromtimestamp(r["kafka_timestamp"] / 1e6, UTC)} for r in rows]
    assert back == expected


def test_an_empty_export_is_still_a_file_with_the_columns(tmp_path: Path) -> None:
    schema = flat_schema(USERS, default_codec())
    ParquetSink(tmp_path / "u.parquet", schema).close()
    assert list(pd.read_parquet(tmp_path / "u.parquet").columns) == column_names(schema)


def test_the_format_comes_from_the_suffix() -> None:
    assert format_of(Path("x/Tweets.PARQUET")) == ".parquet" and format_of(Path("a.avro")) == ".avro"
    with pytest.raises(AnalystError, match=r"must end in \.avro or \.parquet"):
        format_of(Path("tweets.csv"))


# --- the commands' checks (before any connection) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tap", "tweets", "--type", "UserFollowed"], 2, "valid: TweetPosted, TweetEdited, TweetDeleted"),
        (["tap", "nope"], 2, "'nope' is not one of 'users', 'tweets', 'follows', 'likes', 'deadletters'"),
        (["export", "tweets", "--out", "t.csv"], 2, "must end in .avro or .parquet"),
        (["export", "tweets", "--out", "t.avro", "--since", "last week"], 2, "not an ISO-8601 date"),
        (["export", "deadletters", "--out", "d.avro"], 1, "holds no events to export"),
        (["export", "likes", "--out", "l.avro", "--since", "2026-02-01", "--until", "2026-01-01"], 1, "before --until"),
    ],
)
def test_bad_requests_fail_before_connecting_with_a_clear_message(args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(main, args, env={"CHIRP_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())


def test_help_shows_examples() -> None:
    tap_help = CliRunner().invoke(main, ["tap", "--help"]).output
    export_help = CliRunner().invoke(main, ["export", "--help"]).output
    assert "| jq" in tap_help and "decimal strings" in tap_help
    assert "pd.read_parquet" in export_help and "duckdb" in export_help and "timestamp-micros" in export_help
