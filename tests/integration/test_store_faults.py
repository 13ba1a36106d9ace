"""Redis answering OOM for a while: writes are still acknowledged, the worker waits and retries (reported as
degraded), nothing is dead-lettered, and every timeline ends as the log says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from tests.integration.support import WorkerProcess, read_topic, register, timeline, wait_idle

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]


def _retries(settings: Settings) -> float:
    text = httpx.get(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("chirp_worker_store_retries_total{"))  # fmt: skip


@pytest.fixture
def full_redis(redis_client: Any) -> Iterator[None]:
    """Redis refusing every write that needs memory (maxmemory below its use, no eviction)."""
    before = redis_client.config_get("maxmemory*")
    used = int(redis_client.info("memory")["used_memory"])
    redis_client.config_set("maxmemory-policy", "noeviction")
    redis_client.config_set("maxmemory", max(used // 2, 1))
    try:
        yield
    finally:
        redis_client.config_set("maxmemory", before["maxmemory"])
        redis_client.config_set("maxmemory-policy", before["maxmemory-policy"])


def test_redis_oom_is_waited_out_not_dead_lettered(
    api: TestClient, settings: Settings, worker: WorkerProcess, redis_client: Any, uniq: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    # Disruptive tests before this one restart the services: wait until this API's clients are back.
    deadline = time.monotonic() + 180
    while api.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, api.get("/readyz").json()
        time.sleep(0.5)
    author, auth = register(api, f"oom_a{uniq}")
    reader, reader_auth = register(api, f"oom_r{uniq}")
    assert (
        api.post("/follow", headers=reader_auth, json={"follower_id": reader, "followee_id": author}).status_code == 204
    )
    wait_idle(settings, worker)
    retried_before = _retries(settings)

    request.getfixturevalue("full_redis")
    posted = []
    for i in range(5):
        r = api.post("/tweets", headers=auth, json={"user_id": author, "content": f"while full {i}"})
        assert r.status_code == 201, r.text  # Kafka took it; the read-your-writes mark may fail, logged
        posted.append(r.json()["tweet_id"])
    deadline = time.monotonic() + 60
    while _retries(settings) == retried_before:
        assert time.monotonic() < deadline, "the worker never met the OOM answers:\n" + worker.log_tail()
        time.sleep(0.1)
    assert api.get("/readyz").json()["checks"]["redis"] is True
    redis_client.config_set("maxmemory", 0)

    wait_idle(settings, worker)
    assert [t["tweet_id"] for t in timeline(api, reader, reader_auth)] == posted[::-1]
    assert not [m for m in read_topic(settings, "deadletters") if m.key == author.encode()]
