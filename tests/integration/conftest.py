"""One set of real services for the whole session; tests are isolated by a unique topic prefix,
keyspace and Redis prefix, never by restarting services. A missing service fails the run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import Settings
from ops.chaos import free_port
from tests.integration.support import ApiProcess, WorkerProcess

RUN = uuid.uuid4().hex[:8]
# Small on purpose: tests cross the celebrity threshold and page past the Redis cap with few events.
CELEBRITY_THRESHOLD = 3
TIMELINE_CAP = 12


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    from infra.migrate import drop, migrate
    from infra.services import launcher

    s = Settings(
        topic_prefix=f"test{RUN}.",
        keyspace=f"chirp_test_{RUN}",
        redis_prefix=f"test{RUN}:",
        partitions=4,
        celebrity_threshold=CELEBRITY_THRESHOLD,
        timeline_cap=TIMELINE_CAP,
        worker_commit_interval_s=0.1,
        worker_metrics_port=free_port(),
        api_metrics_port=free_port(),
        rate_limits="off",  # tests register and post far more than a person; tests/integration/test_rate_limits.py
    )
    down = [st for st in launcher.status(s) if not st.healthy]
    if down:
        pytest.fail(f"services not running: {[d.name for d in down]}; start them with `make up`", pytrace=False)
    migrate(s, report=lambda _: None)
    yield s
    drop(s)


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def api_process(settings: Settings) -> Iterator[ApiProcess]:
    """A real API process (`python -m api`) on a free port, for the tests of one module."""
    api = ApiProcess(settings)
    yield api
    api.stop()


@pytest.fixture(scope="module")
def base_url(api_process: ApiProcess) -> str:
    return api_process.url


@pytest.fixture
def uniq() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(settings, tmp_path_factory.mktemp("worker"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[Any]:
    from infra import redisnodes

    client = redisnodes.connect_sync(settings)  # one Redis, or a Redis Cluster
    yield client
    client.close()
