"""Poison events go to the dead-letter topic with their reason; the worker keeps going."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from schemas.codec import default_codec
from schemas.events import Meta, TweetEdited, TweetPosted
from schemas.topics import TWEETS, key_for
from tests.integration.support import WorkerProcess, produce_tweets, read_topic, register, timeline, wait_idle

# Disruptive: it writes poison into the shared tweets topic, which tests that decode whole topics must not meet.
pytestmark = [pytest.mark.integration, pytest.mark.disruptive]


def test_poison_goes_to_dead_letters_and_the_worker_keeps_going(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    author, auth = register(api, f"dl_{uniq}")
    mallory, _ = register(api, f"mallory_{uniq}")
    r = api.post("/tweets", headers=auth, json={"user_id": author, "content": "original"})
    tweet = int(r.json()["tweet_id"])
    codec = default_codec()
    forged_edit = TweetEdited(Meta.new(int(mallory)), tweet, int(author), "forged")
    forged_post = TweetPosted(Meta.new(int(mallory)), tweet + 1, int(author), "impersonated")
    garbage = b"\xc3\x01" + b"\x00" * 8 + f"not avro {uniq}".encode()
    produce_tweets(
        settings,
        (author.encode(), garbage),
        (key_for(forged_edit), codec.encode(forged_edit)),
        (key_for(forged_post), codec.encode(forged_post)),
    )
    after = api.post("/tweets", headers=auth, json={"user_id": author, "content": "still flowing"})
    assert after.status_code == 201
    wait_idle(settings, worker)

    ours = [m for m in read_topic(settings, "deadletters") if m.key == author.encode()]
    reasons = [m.headers["reason"].decode() for m in ours]
    assert len(ours) == 3, reasons
    assert reasons[0].startswith("undecodable")
    assert reasons[1].startswith("rule: edit of tweet") and "not its author" in reasons[1]
    assert reasons[2].startswith("rule: tweet")
    assert ours[0].value == garbage  # the original bytes, to requeue once fixed
    assert {m.headers["origin_topic"].decode() for m in ours} == {TWEETS.kafka_name(settings.topic_prefix)}

    assert worker.proc is not None and worker.proc.poll() is None
    contents = [t["content"] for t in timeline(api, author, auth)]
    assert contents == ["still flowing", "original"]


def test_a_second_registration_of_a_handle_in_the_log_is_refused_by_the_projector(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    """The API's claim prevents it; should the log hold one anyway, the first registration keeps the handle."""
    from schemas.events import UserRegistered
    from tests.integration.support import produce_to

    owner, _ = register(api, f"hold{uniq}")
    impostor = UserRegistered(Meta.new(int(owner) + 1), int(owner) + 1, f"HOLD{uniq}", "Impostor")
    produce_to(settings, "users", (key_for(impostor), default_codec().encode(impostor)))
    wait_idle(settings, worker)
    parked = [m for m in read_topic(settings, "deadletters") if m.key == key_for(impostor)]
    assert len(parked) == 1 and "is held by user" in parked[0].headers["reason"].decode()
    assert api.get(f"/users/{int(owner) + 1}").status_code == 404
    assert api.get(f"/users/{owner}").json()["handle"] == f"hold{uniq}"
