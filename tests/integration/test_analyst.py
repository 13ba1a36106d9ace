"""`chirp tap` and `chirp export` against the real Kafka: every event type appended through the API comes back
out of both, field for field, compared with an independent decoder that holds only the .avsc files."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import fastavro
import pandas as pd
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fastapi.testclient import TestClient

from infra import kafka
from infra.settings import REPO_ROOT, Settings
from schemas.codec import default_codec
from schemas.events import Meta, TweetPosted
from schemas.topics import ALL_TOPICS, DEAD_LETTERS, TWEETS, by_name
from tests.integration.support import AvscDecoder, WorkerProcess, chirp_cli, read_topic, register, wait_idle

pytestmark = pytest.mark.integration

IDS = {"actor_id", "user_id", "tweet_id", "author_id", "reply_to", "follower_id", "followee_id", "up_to", "mentions"}
MEDIA = {"url": "https://cdn.example.com/m/cat.jpg", "type": "image", "alt_text": "a cat", "size_bytes": 2048}
DEADLINE_S = 30.0


@dataclass(frozen=True)
class Story:
    """What the module appended through the API: (topic, event type, payload with ids as ints), in order."""

    actors: frozenset[int]
    expected: list[tuple[str, str, dict[str, Any]]]

    def of(self, topic: str) -> list[tuple[str, dict[str, Any]]]:
        return [(kind, payload) for t, kind, payload in self.expected if t == topic]


@pytest.fixture(scope="module")
def story(api: TestClient, settings: Settings, worker: WorkerProcess) -> Story:
    """Register, post (with media), reply, edit, delete, follow, unfollow, like, unlike: every event type."""
    uniq = uuid.uuid4().hex[:8]
    a, auth_a = register(api, f"ana_{uniq}")
    b, auth_b = register(api, f"bob_{uniq}")

    def post(auth: dict[str, str], body: dict[str, Any]) -> int:
        r = api.post("/tweets", headers=auth, json=body)
        assert r.status_code == 201, r.text
        return int(r.json()["tweet_id"])

    first = post(auth_a, {"user_id": a, "content": "first ✨", "media": [MEDIA]})
    reply = post(auth_b, {"user_id": b, "content": "a reply", "reply_to": str(first)})
    assert api.patch(f"/tweets/{first}", headers=auth_a, json={"content": "first, edited"}).status_code == 200
    doomed = post(auth_a, {"user_id": a, "content": "soon gone"})
    assert api.delete(f"/tweets/{doomed}", headers=auth_a).status_code == 204
    pair = {"follower_id": b, "followee_id": a}
    assert api.post("/follow", headers=auth_b, json=pair).status_code == 204
    assert api.delete("/follow", headers=auth_b, params=pair).status_code == 204
    assert api.post(f"/tweets/{first}/like", headers=auth_b).status_code == 204
    assert api.delete(f"/tweets/{first}/like", headers=auth_b).status_code == 204
    wait_idle(settings, worker)  # the pipeline has consumed it all: nothing is still in flight

    ia, ib = int(a), int(b)
    ids = {"follower_id": ib, "followee_id": ia}
    return Story(
        frozenset({ia, ib}),
        [
            (
                "users",
                "UserRegistered",
                {"user_id": ia, "handle": f"ana_{uniq}", "display_name": f"ana_{uniq}".title()},
            ),
            (
                "users",
                "UserRegistered",
                {"user_id": ib, "handle": f"bob_{uniq}", "display_name": f"bob_{uniq}".title()},
            ),
            (
                "tweets",
                "TweetPosted",
                {
                    "tweet_id": first,
                    "author_id": ia,
                    "content": "first ✨",
                    "reply_to": None,
                    "media": [{**MEDIA, "key": None}],
                },
            ),
            (
                "tweets",
                "TweetPosted",
                {"tweet_id": reply, "author_id": ib, "content": "a reply", "reply_to": first, "media": []},
            ),
            ("tweets", "TweetEdited", {"tweet_id": first, "author_id": ia, "content": "first, edited"}),
            (
                "tweets",
                "TweetPosted",
                {"tweet_id": doomed, "author_id": ia, "content": "soon gone", "reply_to": None, "media": []},
            ),
            ("tweets", "TweetDeleted", {"tweet_id": doomed, "author_id": ia}),
            ("follows", "UserFollowed", ids),
            ("follows", "UserUnfollowed", ids),
            ("likes", "TweetLiked", {"tweet_id": first, "user_id": ib}),
            ("likes", "TweetUnliked", {"tweet_id": first, "user_id": ib}),
        ],
    )


def _truth(settings: Settings, topic: str) -> dict[str, tuple[int, bytes | None, dict[str, Any]]]:
    """event_id -> (partition, key, record), read by the independent .avsc-only decoder."""
    dec = AvscDecoder()
    out = {}
    for m in read_topic(settings, topic):
        record = dec.decode(m.value)
        out[record["event_id"]] = (m.partition, m.key, record)
    return out


def _tap(settings: Settings, *args: str) -> tuple[list[dict[str, Any]], str]:
    done = chirp_cli("tap", *args, env=settings.child_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def _as_json(record: dict[str, Any]) -> dict[str, Any]:
    """What the tap should print for a decoded record: ids as decimal strings, times ISO-8601 UTC."""
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, datetime):
            v = v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif k in IDS and isinstance(v, list):
            v = [str(i) for i in v]
        elif k in IDS and v is not None:
            v = str(v)
        out[k] = v
    return out


def _ours(story: Story, events: list[dict[str, Any]], actor: Callable[[dict[str, Any]], int]) -> list[dict[str, Any]]:
    return sorted((e for e in events if actor(e) in story.actors), key=lambda e: e["occurred_at"])


@pytest.mark.parametrize("topic", ["users", "tweets", "follows", "likes"])
def test_tap_prints_every_event_as_appended(story: Story, settings: Settings, topic: str) -> None:
    lines, _ = _tap(settings, topic, "--from-beginning")
    truth = _truth(settings, topic)
    assert len(lines) == len(truth)  # every message of the topic, each once
    ours = _ours(story, lines, lambda e: int(e["actor_id"]))
    assert [(e["event_type"], {k: e[k] for k in p}) for e, (_, p) in zip(ours, story.of(topic), strict=True)] == [
        (kind, _as_json(payload)) for kind, payload in story.of(topic)
    ]
    key_field = by_name(topic).key_field or ""
    positions = set()
    for line in lines:
        partition, key, record = truth[line["event_id"]]
        kafka = line.pop("_kafka")
        assert line == _as_json(record)  # every field, envelope included, as the .avsc-only decoder reads it
        assert (kafka["partition"], kafka["key"]) == (partition, (key or b"").decode()) == (partition, line[key_field])
        assert datetime.fromisoformat(kafka["timestamp"]) >= _ms(datetime.fromisoformat(line["occurred_at"]))
        positions.add((kafka["partition"], kafka["offset"]))
    assert len(positions) == len(lines)


def _ms(value: datetime) -> datetime:
    """Kafka stamps whole milliseconds, at or after the event time."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_tap_type_filters_by_event_type(story: Story, settings: Settings) -> None:
    lines, _ = _tap(settings, "tweets", "--from-beginning", "--type", "TweetEdited")
    assert lines and {e["event_type"] for e in lines} == {"TweetEdited"}
    ours = _ours(story, lines, lambda e: int(e["actor_id"]))
    assert [e["content"] for e in ours] == ["first, edited"]
    wrong = chirp_cli("tap", "tweets", "--type", "TweetLiked", env=settings.child_env())
    assert wrong.returncode == 2 and "valid: TweetPosted, TweetEdited, TweetDeleted" in wrong.stderr


def test_tap_without_from_beginning_starts_at_the_end(story: Story, settings: Settings) -> None:
    lines, stderr = _tap(settings, "tweets")
    assert lines == [] and "nothing to read" in stderr


class Lines:
    """A child's output read on a thread, so a test can wait for a line with a deadline instead of sleeping."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool], what: str, seen: list[str] | None = None) -> str:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {what} within {DEADLINE_S}s") from None
            assert line is not None, f"stream ended before {what}"
            if seen is not None:
                seen.append(line)
            if wanted(line):
                return line

    def rest(self) -> list[str]:
        """Everything up to the end of the stream (the child has exited)."""
        out: list[str] = []
        deadline = time.monotonic() + DEADLINE_S
        while (line := self.queue.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            out.append(line)
        return out


def _spawn_tap(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "tap", *args], cwd=REPO_ROOT, env=settings.child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_tap_follow_prints_new_events_and_stops_cleanly_on_a_signal(
    story: Story, api: TestClient, settings: Settings, sig: signal.Signals
) -> None:
    proc = _spawn_tap(settings, "tweets", "--follow")
    try:
        assert proc.stdout is not None and proc.stderr is not None
        errors = Lines(proc.stderr)
        errors.wait_for(lambda line: "following until Ctrl-C" in line, "banner")  # positioned at the end
        uid, auth = register(api, f"fol_{uuid.uuid4().hex[:8]}")
        tweet = api.post("/tweets", headers=auth, json={"user_id": uid, "content": "live"}).json()["tweet_id"]
        seen: list[str] = []
        Lines(proc.stdout).wait_for(lambda line: json.loads(line).get("tweet_id") == tweet, "the new tweet", seen)
        assert [json.loads(line)["tweet_id"] for line in seen] == [tweet]  # nothing from before the start
        proc.send_signal(sig)
        assert proc.wait(timeout=DEADLINE_S) == 0
        rest = errors.rest()
        assert not any("Traceback" in line for line in rest), rest
    finally:
        proc.kill()
        proc.wait()


def test_tap_stops_quietly_when_its_reader_goes_away(story: Story, settings: Settings) -> None:
    """`chirp tap tweets --from-beginning --follow | head`: head exits, and so must the tap, even one that has
    printed everything and waits for new events (no write left to fail: it must notice the closed pipe)."""
    count = len(read_topic(settings, "tweets"))
    proc = _spawn_tap(settings, "tweets", "--from-beginning", "--follow")
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert all(json.loads(proc.stdout.readline())["event_type"] for _ in range(count))
        proc.stdout.close()
        assert proc.wait(timeout=DEADLINE_S) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


def _export(settings: Settings, topic: str, out: Path, *args: str) -> str:
    done = chirp_cli("export", topic, "--out", str(out), *args, env=settings.child_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.exists() and not out.with_name(out.name + ".partial").exists()
    return done.stderr


def _read_export(path: Path) -> list[dict[str, Any]]:
    """Rows as plain Python values, the way an analyst would open the file."""
    if path.suffix == ".avro":
        with path.open("rb") as f:
            return list(fastavro.reader(f))  # type: ignore[arg-type]
    df = pd.read_parquet(path)
    rows: list[dict[str, Any]] = df.astype(object).where(df.notna(), None).to_dict("records")
    for row in rows:
        for k, v in row.items():
            if isinstance(v, pd.Timestamp):
                row[k] = v.to_pydatetime()
            elif k == "media" and v is not None:
                row[k] = [dict(m) for m in v]
            elif k == "mentions" and v is not None:
                row[k] = [int(x) for x in v]  # pandas hands a list column back as a numpy array
    return rows


@pytest.mark.parametrize("fmt", ["avro", "parquet"])
@pytest.mark.parametrize("topic", ["users", "tweets", "follows", "likes"])
def test_export_writes_one_row_per_event_equal_to_the_log(
    story: Story, settings: Settings, tmp_path: Path, topic: str, fmt: str
) -> None:
    out = tmp_path / f"{topic}.{fmt}"
    stderr = _export(settings, topic, out)
    rows = _read_export(out)
    truth = _truth(settings, topic)
    assert len(rows) == len(truth) and f"exported {len(truth)} events" in stderr
    ours = _ours(story, rows, lambda r: r["actor_id"])
    assert [
        (r["event_type"], {k: r[k] for k in p}) for r, (_, p) in zip(ours, story.of(topic), strict=True)
    ] == story.of(topic)
    columns = set(rows[0]) if rows else set()
    for row in rows:
        partition, _, record = truth[row["event_id"]]
        assert {k: row[k] for k in record} == record  # every field of the event, values exact (64-bit ids too)
        assert all(
            row[k] is None for k in columns - set(record) - {"kafka_partition", "kafka_offset", "kafka_timestamp"}
        )
        assert row["kafka_partition"] == partition and row["kafka_timestamp"] >= _ms(row["occurred_at"])
    assert len({(r["kafka_partition"], r["kafka_offset"]) for r in rows}) == len(rows)


def _scanned(stderr: str) -> int:
    found = re.search(r"\((\d+) messages scanned", stderr)
    assert found, stderr
    return int(found.group(1))


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_export_since_until_selects_by_event_time(story: Story, settings: Settings, tmp_path: Path) -> None:
    times = sorted(r["occurred_at"] for _, _, r in _truth(settings, "tweets").values() if r["actor_id"] in story.actors)
    assert len(times) == 5
    out = tmp_path / "window.parquet"
    # [edit, delete): the edit and the post of the doomed tweet, not the earlier posts nor the delete
    stderr = _export(
        settings, "tweets", out, "--since", _stamp(times[2]), "--until", _stamp(times[4]), "--seek-margin", "0"
    )
    rows = _read_export(out)
    assert [(r["event_type"], r["occurred_at"]) for r in rows] == [("TweetEdited", times[2]), ("TweetPosted", times[3])]
    assert _scanned(stderr) < len(read_topic(settings, "tweets"))  # Kafka's time index skipped the older ones

    day = times[0].date()
    _export(
        settings,
        "tweets",
        out,
        "--since",
        day.isoformat(),
        "--until",
        (times[-1].date() + timedelta(days=1)).isoformat(),
    )
    assert sorted(r["occurred_at"] for r in _read_export(out) if r["actor_id"] in story.actors) == times
    zoned = (times[1] + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f+02:00")  # the same instant as times[1]
    _export(settings, "tweets", out, "--until", zoned)
    assert sorted(r["occurred_at"] for r in _read_export(out) if r["actor_id"] in story.actors) == times[:1]


@pytest.fixture
def poisoned(settings: Settings) -> Iterator[tuple[Settings, list[tuple[int, int]]]]:
    """Topics of their own (a sub-prefix) holding good events around poison: no other test reads them."""
    from infra.migrate import ensure_topics

    own = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}poison{uuid.uuid4().hex[:6]}."})
    asyncio.run(ensure_topics(own, report=lambda _: None))
    codec = default_codec()
    good = [TweetPosted(Meta.new(7), 1000 + i, 7, f"good {i}") for i in range(2)]
    messages = [codec.encode(good[0]), b"\xc3\x01" + b"\x01" * 8 + b"who knows", b"plain text", codec.encode(good[1])]
    offsets = asyncio.run(_produce(own, messages))
    try:
        yield own, offsets
    finally:
        asyncio.run(_delete_topics(own))


async def _produce(settings: Settings, values: list[bytes]) -> list[tuple[int, int]]:
    producer = kafka.producer(settings, "chirp-tests")
    await producer.start()
    try:
        placed = []
        for value in values:
            meta = await producer.send_and_wait(TWEETS.kafka_name(settings.topic_prefix), value, key=b"7", partition=0)
            placed.append((meta.partition, meta.offset))
        headers = [("reason", b"undecodable: test"), ("origin_topic", b"x.tweets"), ("origin_offset", b"1")]
        for value in values[:2]:
            await producer.send_and_wait(
                DEAD_LETTERS.kafka_name(settings.topic_prefix), value, partition=0, headers=headers
            )
        return placed
    finally:
        await producer.stop()


async def _delete_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.delete_topics([n for t in ALL_TOPICS if (n := t.kafka_name(settings.topic_prefix)) in existing])
    finally:
        await admin.close()


def test_undecodable_messages_are_reported_and_skipped(
    poisoned: tuple[Settings, list[tuple[int, int]]], tmp_path: Path
) -> None:
    own, offsets = poisoned
    lines, stderr = _tap(own, "tweets", "--from-beginning")
    assert [e["content"] for e in lines] == ["good 0", "good 1"]
    for partition, offset in offsets[1:3]:
        assert f"undecodable message at partition {partition} offset {offset}:" in stderr
    assert "unknown writer schema fingerprint 0101010101010101" in stderr

    stderr = _export(own, "tweets", tmp_path / "t.avro")
    assert [r["content"] for r in _read_export(tmp_path / "t.avro")] == ["good 0", "good 1"]
    assert "2 skipped" in stderr and f"skipped message at partition 0 offset {offsets[2][1]}" in stderr

    letters, _ = _tap(own, "deadletters", "--from-beginning")
    assert [(d["headers"]["reason"], d["event"] and d["event"]["content"]) for d in letters] == [
        ("undecodable: test", "good 0"),
        ("undecodable: test", None),
    ]
    assert "unknown writer schema fingerprint" in letters[1]["error"]
