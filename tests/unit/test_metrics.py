"""Metrics with no services: route labels, the API middleware on small apps, the worker's lag and server."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.routing import Route

from api import metrics as api_metrics
from api.app import create_app
from infra.settings import Settings
from streams import metrics as worker_metrics
from tests.fakes.api import memory_wiring

DURATION = "chirp_http_request_duration_seconds_count"


def requests_seen(route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value(DURATION, labels) or 0.0


def test_route_label_is_the_template_or_unmatched() -> None:
    async def endpoint(request: Any) -> None: ...

    route = Route("/tweets/{tweet_id:int}/like", endpoint)
    assert api_metrics.route_label({"route": route}) == "/tweets/{tweet_id}/like"
    assert api_metrics.route_label({}) == api_metrics.UNMATCHED
    assert api_metrics.route_label({"route": object()}) == api_metrics.UNMATCHED


def test_method_label_is_bounded() -> None:
    assert api_metrics.method_label("PATCH") == "PATCH"
    assert api_metrics.method_label("BREW") == "other"


@pytest.fixture
def small_app() -> TestClient:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise HTTPException(404, "no such thing")
        return {"thing_id": thing_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    api_metrics.install(app, Settings(api_metrics_port=0))
    return TestClient(app, raise_server_exceptions=False)


def test_middleware_labels_by_template_method_and_status(small_app: TestClient) -> None:
    before = {
        k: requests_seen(*k)
        for k in [
            ("/things/{thing_id}", "GET", 200),
            ("/things/{thing_id}", "GET", 404),
            ("/things/{thing_id}", "POST", 405),
            ("unmatched", "GET", 404),
            ("/boom", "GET", 500),
        ]
    }
    for path in ("/things/1", "/things/2", "/things/0", "/nowhere/3"):
        small_app.get(path)
    small_app.post("/things/1")
    assert small_app.get("/boom").status_code == 500
    after = {k: requests_seen(*k) - v for k, v in before.items()}
    assert after == {
        ("/things/{thing_id}", "GET", 200): 2,
        ("/things/{thing_id}", "GET", 404): 1,
        ("/things/{thing_id}", "POST", 405): 1,
        ("unmatched", "GET", 404): 1,
        ("/boom", "GET", 500): 1,
    }
    assert REGISTRY.get_sample_value("chirp_http_requests_in_flight") == 0
    assert 'route="/things/1"' not in small_app.get("/metrics").text


def test_the_api_serves_and_documents_metrics_on_its_port_when_asked() -> None:
    settings = Settings(max_body_bytes=1024, api_metrics_port=0)
    w = memory_wiring(settings)
    with TestClient(create_app(settings, w)) as client:
        refused = requests_seen("unmatched", "POST", 413)
        assert client.post("/users", content=b"x" * 2048).status_code == 413  # refused before routing
        assert requests_seen("unmatched", "POST", 413) == refused + 1
        client.get("/healthz")
        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert 'chirp_http_request_duration_seconds_bucket{le="0.0005",method="GET",route="/healthz",status="200"}' in (
            r.text
        )
        op = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
        assert op["tags"] == ["health"] and "text/plain" in op["responses"]["200"]["content"]


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    """What ConsumerLag reads from Faust's consumer."""

    highwaters: dict[TP, int | None]
    revoked: set[TP] = field(default_factory=set)

    def assignment(self) -> set[TP]:
        return set(self.highwaters) | self.revoked

    def highwater(self, tp: TP) -> int | None:
        assert tp not in self.revoked, "Partition is not assigned"
        return self.highwaters[tp]


def lag(topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value("chirp_worker_consumer_lag", {"topic": topic, "partition": str(partition)})


def test_consumer_lag_is_highwater_minus_the_highest_next_offset_seen() -> None:
    t = "unit-lag.tweets"
    tracker = worker_metrics.ConsumerLag()
    tracker.advance({f"{t}:0": 7, f"{t}:1": 3})
    tracker.advance({f"{t}:0": 5})  # an older snapshot from another agent never moves it back
    consumer = FakeConsumer({TP(t, 0): 10, TP(t, 1): 3, TP(t, 2): 4, TP(t, 3): None}, revoked={TP(t, 4)})
    tracker.update(consumer)
    assert (lag(t, 0), lag(t, 1), lag(t, 2), lag(t, 3), lag(t, 4)) == (3, 0, 4, None, None)
    tracker.update(FakeConsumer({TP(t, 1): 3}))  # a rebalance took the others away
    assert (lag(t, 0), lag(t, 1), lag(t, 2)) == (None, 0, None)


def test_consumer_lag_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    tracker = worker_metrics.ConsumerLag()
    tracker.update(object())
    tracker.update(object())
    assert [r.message for r in caplog.records] == ["consumer lag not measured"]


def test_events_are_labelled_with_the_running_agent() -> None:
    def events(topic: str, outcome: str) -> float:
        labels = {"agent": "unit", "topic": topic, "outcome": outcome}
        return REGISTRY.get_sample_value("chirp_worker_events_total", labels) or 0.0

    delays = REGISTRY.get_sample_value("chirp_worker_delay_seconds_count") or 0.0
    token = worker_metrics.AGENT.set("unit")
    try:
        worker_metrics.record_projected(["u.tweets", "u.follows", "u.tweets"], 4, [1.5, 20.0])
        worker_metrics.record_dead_letter("u.tweets")
    finally:
        worker_metrics.AGENT.reset(token)
    assert (events("u.tweets", "projected"), events("u.follows", "projected")) == (2, 1)
    assert events("u.tweets", "dead_lettered") == 1
    assert REGISTRY.get_sample_value("chirp_worker_delay_seconds_count") == delays + 2


def test_a_taken_port_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        with caplog.at_level(logging.WARNING, "chirp.worker"):
            assert worker_metrics.serve(taken.getsockname()[1]) is False
    assert "worker metrics not served" in caplog.text
    assert worker_metrics.serve(0) is False


def test_by_default_metrics_are_not_on_the_public_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(api_metrics_port=port)
    api_metrics.serve_apart(settings)  # what a real API process does at start-up
    with TestClient(create_app(settings, memory_wiring(settings))) as client:
        assert client.get("/metrics").status_code == 404
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]
        client.get("/healthz")
    scraped = httpx.get(f"http://127.0.0.1:{settings.api_metrics_port}/metrics", timeout=5)
    assert scraped.status_code == 200 and "chirp_http_request_duration_seconds" in scraped.text
