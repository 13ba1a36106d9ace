"""`chirp dlq` against the real services: a dead letter whose cause is fixed is requeued, applied once,
and never sent twice; one whose cause remains dead-letters again as a new dead letter."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infra.kafka import end_offsets
from infra.settings import Settings
from schemas.codec import default_codec
from schemas.events import Meta, TweetEdited, TweetPosted
from schemas.ids import TOOL_NODES, IdGenerator
from schemas.topics import DEAD_LETTER_REQUEUES, DEAD_LETTERS, TWEETS, key_for
from tests.integration.support import WorkerProcess, chirp_cli, produce_tweets, read_topic, register, wait_idle

# Disruptive like test_dead_letters: it writes refused events and poison straight into the shared tweets topic.
pytestmark = [pytest.mark.integration, pytest.mark.disruptive]

IDS = IdGenerator(TOOL_NODES[0])  # a node no API process leases


def dlq(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return chirp_cli("dlq", *args, env=settings.child_env())


def listed(settings: Settings, *filters: str) -> list[list[str]]:
    """The rows of `chirp dlq list` (split on runs of two spaces), without the header and the count."""
    r = dlq(settings, "list", "--limit", "0", *filters)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ID "), r.stdout
    return [[c.strip() for c in line.split("  ") if c.strip()] for line in lines[1:-1]]


def test_a_requeued_dead_letter_is_processed_once(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    author, _ = register(api, f"rq_{uniq}")
    tweet = IDS.next_id()
    now = datetime.now(UTC)
    # The post happened first but reaches the log after the edit: the edit is refused as unknown.
    post = TweetPosted(Meta.new(int(author), now - timedelta(seconds=1)), tweet, int(author), f"first {uniq}")
    edit = TweetEdited(Meta.new(int(author), now), tweet, int(author), f"edited {uniq}")
    codec = default_codec()
    produce_tweets(settings, (key_for(edit), codec.encode(edit)))
    wait_idle(settings, worker)

    rows = listed(settings, "--reason", str(tweet))
    assert len(rows) == 1, rows
    dead_id, _, origin, event, requeued, reason = rows[0]
    assert (event, requeued, reason) == ("TweetEdited", "no", f"rule: edit of unknown tweet {tweet}")
    shown = dlq(settings, "show", dead_id)
    assert shown.returncode == 0, shown.stderr
    assert f'"tweet_id": "{tweet}"' in shown.stdout and '"event_type": "TweetEdited"' in shown.stdout
    assert f"origin     {origin}" in shown.stdout and "requeued   no" in shown.stdout

    produce_tweets(settings, (key_for(post), codec.encode(post)))  # the cause is fixed: the tweet exists now
    wait_idle(settings, worker)
    assert api.get(f"/tweets/{tweet}").json()["content"] == f"first {uniq}"

    tweets = TWEETS.kafka_name(settings.topic_prefix)
    ends = asyncio.run(end_offsets(settings))
    r = dlq(settings, "requeue", dead_id)
    assert r.returncode == 0, r.stderr
    wait_idle(settings, worker)
    got = api.get(f"/tweets/{tweet}").json()
    assert got["content"] == f"edited {uniq}" and got["edited_at"] is not None

    edits = [m for m in read_topic(settings, TWEETS.name) if m.value == codec.encode(edit)]
    assert len(edits) == 2, "the original and exactly one copy"
    original, copy = edits
    assert (copy.key, copy.partition) == (original.key, original.partition) and origin.startswith(f"{tweets}:")
    partition, offset = dead_id.split(":")
    assert (
        copy.headers["requeued_from"]
        == f"{DEAD_LETTERS.kafka_name(settings.topic_prefix)}:{partition}@{offset}".encode()
    )
    where = f"{tweets}:{copy.partition}@{ends[f'{tweets}:{copy.partition}']}"  # the only write since `ends`
    assert r.stdout.splitlines()[0] == f"requeued {dead_id} as {where}"
    after = asyncio.run(end_offsets(settings))
    assert {k: v - ends[k] for k, v in after.items() if v != ends[k]} == {f"{tweets}:{copy.partition}": 1}
    assert listed(settings, "--reason", str(tweet))[0][4] == "yes"  # requeued, and no new dead letter

    again = dlq(settings, "requeue", dead_id)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{dead_id} already requeued at ") and f" as {where}; nothing sent" in again.stdout
    pending = dlq(settings, "requeue", "--all", "--reason", str(tweet))
    assert pending.returncode == 0 and "nothing to requeue" in pending.stdout, pending.stdout + pending.stderr
    assert asyncio.run(end_offsets(settings)) == after, "a second requeue sent something"
    records = [m for m in read_topic(settings, DEAD_LETTER_REQUEUES.name) if m.key == dead_id.encode()]
    assert len(records) == 1


def test_a_dead_letter_whose_cause_remains_comes_back_as_a_new_one(
    settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    key = f"dlq_{uniq}"
    garbage = b"\xc3\x01" + b"\x00" * 8 + f"not avro {uniq}".encode()
    produce_tweets(settings, (key.encode(), garbage))
    wait_idle(settings, worker)

    rows = listed(settings, "--key", key)
    assert [(r[3], r[4]) for r in rows] == [("undecodable", "no")], rows
    first = rows[0][0]
    shown = dlq(settings, "show", first)
    assert shown.returncode == 0, shown.stderr
    assert "event      undecodable (" in shown.stdout and "unknown writer schema fingerprint" in shown.stdout
    assert "00000000  c3 01 00 00 00 00 00 00  00 00 6e 6f 74 20 61 76  |..........not av|" in shown.stdout

    r = dlq(settings, "requeue", first)
    assert r.returncode == 0, r.stderr
    wait_idle(settings, worker)  # the worker dead-letters before it records its progress

    rows = listed(settings, "--key", key)
    assert [(r[0] == first, r[3], r[4]) for r in rows] == [(True, "undecodable", "yes"), (False, "undecodable", "no")]
    summary = dlq(settings, "list", "--key", key).stdout.splitlines()[-1]
    assert summary == "2 dead letters match (1 requeued, 1 not)"


def test_unknown_ids_are_refused_and_nothing_is_sent(settings: Settings) -> None:
    before = asyncio.run(end_offsets(settings))
    r = dlq(settings, "requeue", "0:999999999")
    assert r.returncode == 1 and "no dead letter 0:999999999" in r.stderr
    assert dlq(settings, "show", "0:999999999").returncode == 1
    assert asyncio.run(end_offsets(settings)) == before
