"""The cluster topology's tests (`make test-cluster`): the settings come from infra/cluster.env through the
environment, and every node must answer."""

from __future__ import annotations

import pytest

from infra.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    from infra.services import launcher

    s = Settings()
    if len(s.kafka_nodes) < 3 or len(s.cassandra_contact_points) < 3 or len(s.redis_nodes) < 6:
        pytest.fail("run these on the cluster topology: `make test-cluster`", pytrace=False)
    down = [st.name for st in launcher.status(s) if not st.healthy]
    if down:
        pytest.fail(f"cluster nodes not running: {down}; start them with `make up-cluster`", pytrace=False)
    return s
