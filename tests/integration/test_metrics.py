"""Prometheus metrics against the real services: the API's `GET /metrics` and the worker's endpoint
(`CHIRP_WORKER_METRICS_PORT`, a free port for the session, see conftest) after posts and follows."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from infra.settings import Settings
from schemas.topics import EVENT_TOPICS, TWEETS
from tests.integration.support import WorkerProcess, register, timeline, wait_idle

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_api_and_worker_metrics(api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str) -> None:
    author, auth = register(api, f"ma_{uniq}")
    fans = [register(api, f"m{i}_{uniq}") for i in range(2)]
    for fan, fan_auth in fans:
        r = api.post("/follow", headers=fan_auth, json={"follower_id": fan, "followee_id": author})
        assert r.status_code == 204, r.text
        timeline(api, fan, fan_auth)  # a read materializes the timeline, so posts are delivered into it
    posts = [api.post("/tweets", headers=auth, json={"user_id": author, "content": f"metric {i}"}) for i in range(5)]
    assert all(r.status_code == 201 for r in posts)
    wait_idle(settings, worker)
    for r in posts:
        assert api.get(f"/tweets/{r.json()['tweet_id']}").status_code == 200

    assert api.get("/metrics").status_code == 404  # not on the public port
    text = httpx.get(f"http://127.0.0.1:{settings.api_metrics_port}/metrics", timeout=10).text
    seen = parse(text)
    count = "chirp_http_request_duration_seconds_count"
    assert (value(seen, count, route="/tweets", method="POST", status="201") or 0) >= len(posts)
    assert (value(seen, count, route="/tweets/{tweet_id}", method="GET", status="200") or 0) >= len(posts)
    assert posts[0].json()["tweet_id"] not in text  # templates, never raw paths
    assert value(seen, "chirp_http_requests_in_flight") == 0  # the scrape does not pass through the API

    scraped = httpx.get(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", timeout=10)
    assert scraped.status_code == 200, worker.log_tail()
    seen = parse(scraped.text)
    tweets = TWEETS.kafka_name(settings.topic_prefix)
    projected = value(seen, "chirp_worker_events_total", agent="timelines", topic=tweets, outcome="projected")
    assert (projected or 0) >= len(posts)
    assert (value(seen, "chirp_worker_deliveries_total") or 0) >= len(posts) * len(fans)
    assert (value(seen, "chirp_worker_delay_seconds_count") or 0) >= len(posts)
    assert (value(seen, "chirp_worker_batch_seconds_count", agent="timelines") or 0) > 0
    for topic in EVENT_TOPICS:
        name = topic.kafka_name(settings.topic_prefix)
        for p in range(settings.partitions):  # one worker holds every partition; idle, none is behind
            assert value(seen, "chirp_worker_consumer_lag", topic=name, partition=str(p)) == 0, (name, p)
