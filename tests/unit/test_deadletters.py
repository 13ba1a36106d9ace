"""`chirp dlq` without services: ids, header parsing, requeue records, decoding, formatting, planning."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from infra.migrate import topic_config
from infra.settings import Settings
from ops.deadletters.kafkaio import RecordFailed, Requeuer, SendFailed
from ops.deadletters.letters import (
    DeadLetter,
    DeadLetterError,
    LetterId,
    Position,
    Requeue,
    decode,
    event_type,
    in_order,
    matches,
    parse_failed_at,
    plan,
    requeue_records,
    resolve,
    text_or_hex,
)
from ops.deadletters.render import (
    event_json,
    hexdump,
    list_rows,
    requeued_text,
    show_text,
    summary,
    table,
    truncate,
)
from schemas.codec import default_codec
from schemas.events import Meta, TweetEdited
from schemas.topics import ALL_TOPICS, DEAD_LETTER_REQUEUES, DEAD_LETTERS, EVENT_TOPICS, TWEETS

SETTINGS = Settings(topic_prefix="u.")
TWEETS_TOPIC = TWEETS.kafka_name("u.")
EDIT = TweetEdited(
    Meta("0b7f6f2e-0c4e-4a43-9a2b-7d7b6a8e9f10", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 42),
    383041570875580416,
    42,
    "new text",
)
GARBAGE = b"\xc3\x01" + b"\x00" * 8 + b"not avro"


def letter(
    partition: int = 0,
    offset: int = 0,
    value: bytes = GARBAGE,
    reason: str = "undecodable: x",
    failed_at: str = "1767323045.5",
    origin: tuple[str, str, str] | None = (TWEETS_TOPIC, "2", "17"),
    key: bytes | None = b"42",
) -> DeadLetter:
    headers = [("reason", reason.encode()), ("failed_at", failed_at.encode())]
    if origin:
        headers += [
            (n, v.encode()) for n, v in zip(("origin_topic", "origin_partition", "origin_offset"), origin, strict=True)
        ]
    return DeadLetter(LetterId(partition, offset), key, value, tuple(headers), timestamp_ms=1_767_000_000_000)


def test_ids_are_partition_colon_offset() -> None:
    assert LetterId.parse(" 3:17 ") == LetterId(3, 17)
    assert str(LetterId(3, 17)) == "3:17"
    for bad in ("17", "3:", ":17", "a:b", "3:-1", "3@17"):
        with pytest.raises(ValueError, match="partition:offset"):
            LetterId.parse(bad)


def test_headers_parse_into_origin_reason_and_time() -> None:
    d = letter()
    assert d.origin == Position(TWEETS_TOPIC, 2, 17)
    assert str(d.origin) == f"{TWEETS_TOPIC}:2@17"
    assert d.reason == "undecodable: x"
    assert d.failed_at == datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)


def test_missing_or_malformed_headers_degrade() -> None:
    assert letter(origin=None).origin is None
    assert letter(origin=(TWEETS_TOPIC, "two", "17")).origin is None
    assert letter(failed_at="soon").failed_at == datetime.fromtimestamp(1_767_000_000, UTC)  # Kafka's timestamp
    assert DeadLetter(LetterId(0, 0), None, b"", ()).reason == "(no reason header)"


def test_failed_at_accepts_epoch_seconds_and_iso() -> None:
    assert parse_failed_at(b"0") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_failed_at(b"2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_failed_at(b"nope") is None and parse_failed_at(None) is None


def test_requeue_records_round_trip_and_fold_like_compaction() -> None:
    one = Requeue(Position(TWEETS_TOPIC, 2, 90), datetime(2026, 1, 2, tzinfo=UTC))
    assert Requeue.decode(one.encode()) == one
    assert json.loads(one.encode())["requeued_at"] == "2026-01-02T00:00:00.000Z"
    two = Requeue(Position(TWEETS_TOPIC, 2, 91), datetime(2026, 1, 3, tzinfo=UTC))
    done = requeue_records(
        [
            (b"0:1", one.encode(), 0),
            (b"0:1", two.encode(), 0),  # last value wins
            (b"0:2", one.encode(), 0),
            (b"0:2", None, 0),  # tombstone: forgotten
            (b"0:3", b"garbage", 1_767_000_000_000),  # unreadable: still counts as requeued
            (None, one.encode(), 0),
        ]
    )
    assert done[LetterId(0, 1)] == two
    assert LetterId(0, 2) not in done
    assert done[LetterId(0, 3)].at == datetime.fromtimestamp(1_767_000_000, UTC)


def test_decoded_events_print_as_json_with_ids_as_strings() -> None:
    codec = default_codec()
    got = decode(codec, codec.encode(EDIT))
    assert not isinstance(got, Exception)
    assert (got.event_type, event_type(codec, codec.encode(EDIT))) == ("TweetEdited", "TweetEdited")
    data = json.loads(event_json(got))
    assert data["tweet_id"] == "383041570875580416" and data["author_id"] == "42" and data["actor_id"] == "42"
    assert data["schema_version"] == got.version and data["occurred_at"] == "2026-01-02T03:04:05.000Z"
    assert event_type(codec, GARBAGE) == "undecodable"


def test_hexdump_shows_offsets_hex_and_text() -> None:
    dump = hexdump(GARBAGE)
    assert dump.splitlines() == [
        "00000000  c3 01 00 00 00 00 00 00  00 00 6e 6f 74 20 61 76  |..........not av|",
        "00000010  72 6f                                             |ro|",
    ]
    assert hexdump(bytes(300)).splitlines()[-1] == "... 44 more bytes"
    assert hexdump(b"") == "(empty)"


def test_keys_print_as_text_or_hex() -> None:
    assert text_or_hex(b"383041570875580416") == "383041570875580416"
    assert text_or_hex(b"\xff\x00") == "0xff00"
    assert text_or_hex(b"a\nb") == "0x610a62"
    assert text_or_hex(None) == "(none)"


def test_list_lines_and_summary() -> None:
    codec = default_codec()
    edit = letter(1, 5, codec.encode(EDIT), "rule: edit of unknown tweet 383041570875580416 " + "x" * 80)
    done = {LetterId(1, 5): Requeue(Position(TWEETS_TOPIC, 2, 90), datetime(2026, 1, 3, tzinfo=UTC))}
    lines = table(list_rows([letter(0, 7), edit], done, codec))
    assert lines[0].split() == ["ID", "FAILED", "AT", "(UTC)", "ORIGIN", "EVENT", "REQUEUED", "REASON"]
    assert lines[1].split()[:5] == ["0:7", "2026-01-02T03:04:05.500Z", f"{TWEETS_TOPIC}:2@17", "undecodable", "no"]
    assert lines[2].split()[:5] == ["1:5", "2026-01-02T03:04:05.500Z", f"{TWEETS_TOPIC}:2@17", "TweetEdited", "yes"]
    assert lines[2].split("yes", 1)[1].strip() == truncate(edit.reason, 60) and len(truncate(edit.reason, 60)) == 60
    assert lines[0].index("REQUEUED") == lines[1].index("no ") == lines[2].index("yes")  # aligned columns
    assert summary(3, 1, 3, False) == "3 dead letters (1 requeued, 2 not)"
    assert summary(1, 0, 1, True) == "1 dead letter match (0 requeued, 1 not)"
    assert summary(80, 0, 50, False).endswith("showing the newest 50 (--limit 0 shows all)")


def test_filters_and_order() -> None:
    d = letter(reason="rule: Edit of unknown tweet 9")
    assert matches(d, "edit of UNKNOWN", None) and not matches(d, "delete", None)
    assert matches(d, None, "42") and not matches(d, None, "4") and not matches(letter(key=None), None, "42")
    late, early = letter(0, 1, failed_at="20"), letter(1, 0, failed_at="10")
    assert in_order([late, early]) == [early, late]


def test_show_prints_headers_key_and_event() -> None:
    codec = default_codec()
    text = show_text(letter(2, 3, codec.encode(EDIT)), None, codec, "u.deadletters")
    assert text.startswith("dead letter 2:3 in u.deadletters")
    assert "requeued   no" in text and "key        42" in text and "  origin_offset     17" in text
    assert '"tweet_id": "383041570875580416"' in text
    done = Requeue(Position(TWEETS_TOPIC, 2, 90), datetime(2026, 1, 3, tzinfo=UTC))
    bad = show_text(letter(), done, codec, "u.deadletters")
    assert f"requeued   at 2026-01-03T00:00:00.000Z as {TWEETS_TOPIC}:2@90" in bad
    assert "event      undecodable (18 bytes): unknown writer schema fingerprint" in bad
    assert "|..........not av|" in bad


def test_resolve_takes_ids_and_unambiguous_offsets() -> None:
    letters = [letter(0, 4), letter(1, 4), letter(1, 9)]
    assert resolve("1:4", letters) is letters[1]
    assert resolve("9", letters) is letters[2]
    with pytest.raises(DeadLetterError, match=r"ambiguous.*0:4, 1:4"):
        resolve("4", letters)
    with pytest.raises(DeadLetterError, match="no dead letter 2:4"):
        resolve("2:4", letters)
    with pytest.raises(DeadLetterError, match="not a dead-letter id"):
        resolve("x", letters)


def test_plan_skips_requeued_refuses_foreign_topics_and_keeps_order() -> None:
    done = {LetterId(0, 1): Requeue(Position(TWEETS_TOPIC, 0, 5), datetime(2026, 1, 3, tzinfo=UTC))}
    sent_before = letter(0, 1)
    no_origin = letter(0, 2, origin=None)
    foreign = letter(0, 3, origin=("prod.tweets", "0", "1"))  # another deployment's topic: never
    later, earlier = letter(1, 1, failed_at="20"), letter(1, 2, failed_at="10")
    p = plan([sent_before, no_origin, foreign, later, earlier, later], done, SETTINGS)
    assert p.send == [earlier, later]
    assert p.already == [(sent_before, done[LetterId(0, 1)])]
    assert [(d.id, why.split(" ")[1]) for d, why in p.refused] == [
        (LetterId(0, 2), "origin"),
        (LetterId(0, 3), "origin"),
    ]
    assert "not an event topic" in p.refused[1][1]


def test_the_requeue_record_topic_is_compacted_and_no_event_topic() -> None:
    assert DEAD_LETTER_REQUEUES in ALL_TOPICS and DEAD_LETTER_REQUEUES not in EVENT_TOPICS
    assert topic_config(DEAD_LETTER_REQUEUES, SETTINGS)["cleanup.policy"] == "compact"
    assert {topic_config(t, SETTINGS)["cleanup.policy"] for t in (*EVENT_TOPICS, DEAD_LETTERS)} == {"delete"}


@pytest.mark.parametrize("args", [["dlq"], ["dlq", "list"], ["dlq", "show"], ["dlq", "requeue"]])
def test_every_dlq_command_has_help_with_examples(args: list[str]) -> None:
    from ops.cli import main

    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output and "chirp dlq" in result.output


@pytest.mark.parametrize("args", [[], ["0:1", "--all"], ["0:1", "--reason", "x"]])
def test_requeue_needs_ids_or_all(args: list[str]) -> None:
    from ops.cli import main

    result = CliRunner().invoke(main, ["dlq", "requeue", *args])
    assert result.exit_code == 2 and "Error" in result.output


def test_a_send_says_where_it_went_and_whether_that_is_not_where_it_came_from() -> None:
    same = Requeue(Position(TWEETS_TOPIC, 2, 90), datetime(2026, 1, 3, tzinfo=UTC))
    assert requeued_text(letter(0, 7), same) == f"requeued 0:7 as {TWEETS_TOPIC}:2@90"
    moved = Requeue(Position(TWEETS_TOPIC, 1, 90), datetime(2026, 1, 3, tzinfo=UTC))
    assert requeued_text(letter(0, 7), moved).endswith(f"(its key routes it there; it came from {TWEETS_TOPIC}:2@17)")


class FakeProducer:
    """Stands in for the Kafka producer: records sends; `fail` names the topic whose send raises."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None, **_: object) -> object:
        if topic == self.fail:
            raise OSError("broker gone")
        self.sent.append((topic, key, value))
        return Position(topic, 2, len(self.sent) - 1)


async def test_requeue_records_only_after_the_send_was_acknowledged() -> None:
    requeuer = Requeuer(SETTINGS)
    records = DEAD_LETTER_REQUEUES.kafka_name("u.")
    requeuer.producer = FakeProducer()
    done = await requeuer.requeue(letter(0, 7))
    assert requeuer.producer.sent == [(TWEETS_TOPIC, b"42", GARBAGE), (records, b"0:7", done.encode())]

    requeuer.producer = FakeProducer(fail=TWEETS_TOPIC)
    with pytest.raises(SendFailed, match="not recorded"):
        await requeuer.requeue(letter(0, 7))
    assert requeuer.producer.sent == []

    requeuer.producer = FakeProducer(fail=records)
    with pytest.raises(RecordFailed, match=f"0:7 was resent as {TWEETS_TOPIC}:2@0, but recording that failed"):
        await requeuer.requeue(letter(0, 7))
