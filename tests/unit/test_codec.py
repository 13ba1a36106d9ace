"""The codec: every event and every schema version round-trips; the framing follows the Avro spec."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from schemas.codec import HEADER_LEN, MAGIC, Codec, DecodeError, default_codec
from schemas.events import (
    EVENT_TYPES,
    Event,
    Media,
    Meta,
    NotificationsRead,
    TweetDeleted,
    TweetEdited,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserRegistered,
    UserUnfollowed,
)

META = Meta("0b7f6f2e-0c4e-4a43-9a2b-7d7b6a8e9f10", datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), 42)
SAMPLES: list[Event] = [
    UserRegistered(META, 42, "ada_l", "Ada Lovelace"),
    TweetPosted(META, 1001, 42, "héllo wörld ✨ #chirp @bob", None, (), (7,)),
    TweetPosted(META, 1002, 42, "a reply", 1001, (Media("https://cdn.example/a.jpg", "image", "a cat", 2048),)),
    TweetPosted(META, 1003, 42, "video", None, (Media("https://cdn.example/v.mp4", "video"),)),
    TweetEdited(META, 1001, 42, "edited text"),
    TweetDeleted(META, 1001, 42),
    UserFollowed(META, 42, 7),
    UserUnfollowed(META, 42, 7),
    TweetLiked(META, 1001, 7),
    TweetUnliked(META, 1001, 7),
    NotificationsRead(META, 42, 1003),
]


def test_samples_cover_every_event_type() -> None:
    assert {type(e).__name__ for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip_latest_version(event: object) -> None:
    codec = default_codec()
    data = codec.encode(event)  # type: ignore[arg-type]
    assert data[:2] == MAGIC
    assert data[2:HEADER_LEN] == codec.latest[type(event).__name__].fingerprint
    assert codec.decode(data) == event


def test_every_old_version_decodes_into_the_latest() -> None:
    """Bytes written with any past schema version decode, with defaults for fields added since."""
    codec = default_codec()
    for writer in codec.by_fingerprint.values():
        sample = next(e for e in SAMPLES if type(e).__name__ == writer.event_type)
        record = _record_for(writer.raw, sample)
        body = io.BytesIO()
        fastavro.schemaless_writer(body, writer.parsed, record)
        decoded = codec.decode(MAGIC + writer.fingerprint + body.getvalue())
        assert type(decoded).__name__ == writer.event_type
        assert decoded.meta == META
        for name in record:
            if name not in ("event_type", "schema_version", "event_id", "occurred_at", "actor_id", "media", "mentions"):
                assert getattr(decoded, name) == record[name], (writer.path.name, name)
        if "mentions" in record:
            assert isinstance(decoded, TweetPosted) and decoded.mentions == tuple(record["mentions"])
        if writer.event_type == "TweetPosted" and writer.version == 1:
            assert isinstance(decoded, TweetPosted) and decoded.media == ()  # the v2 default fills in


def _record_for(schema: dict[str, Any], event: Event) -> dict[str, Any]:
    from schemas.codec import to_record

    full = to_record(event, schema["chirp.version"])
    return {f["name"]: full[f["name"]] for f in schema["fields"]}


def test_fingerprint_follows_the_avro_spec() -> None:
    """CRC-64-AVRO of the canonical form, little-endian: the spec's test vectors for "int" and "null"."""
    from fastavro.schema import fingerprint

    assert int.from_bytes(bytes.fromhex(fingerprint('"int"', "CRC-64-AVRO")), "little") == 8247732601305521295
    assert int.from_bytes(bytes.fromhex(fingerprint('"null"', "CRC-64-AVRO")), "little") == 7195948357588979594


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not an Avro"),
        (b'{"json": true}', "not an Avro"),
        (MAGIC + b"\x00" * 8 + b"\x02", "unknown writer schema"),
    ],
)
def test_garbage_is_a_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        default_codec().decode(data)


def test_truncated_body_is_a_decode_error() -> None:
    data = default_codec().encode(SAMPLES[1])
    with pytest.raises(DecodeError, match="corrupt"):
        default_codec().decode(data[: HEADER_LEN + 5])


def test_duplicate_schemas_are_refused(tmp_path: object) -> None:
    from schemas.codec import SCHEMA_DIR, load_schema_file

    s = load_schema_file(SCHEMA_DIR / "tweet_liked.v1.avsc")
    with pytest.raises(ValueError, match="same canonical form"):
        Codec([*(load_schema_file(p) for p in SCHEMA_DIR.glob("*.avsc")), s])
