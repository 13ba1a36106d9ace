"""A Redis Cluster on this machine (three primaries on 127.0.0.1-3, started by the launcher for this module
and stopped after): keys are grouped by the node that serves them, and a script that touches keys of several
local slots runs where they live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra import redisnodes
from infra.settings import Settings
from projections.stores.keys import RedisKeys
from tests.integration.support import local_redis_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with local_redis_cluster(tmp_path_factory.mktemp("rediscluster"), per_address=1) as s:
        yield s


async def test_keys_are_grouped_by_the_node_that_serves_them(cluster: Settings) -> None:
    nodes = redisnodes.connect(cluster)
    try:
        await nodes.refresh()
        keys = RedisKeys("t:")
        users = list(range(1, 200))
        groups = nodes.group(users, keys.timeline)
        assert len(groups) == 3 and sorted(u for _, part in groups for u in part) == users
        for client, part in groups:
            for u in part:  # each key is served by the node its group went to: no MOVED
                await client.set(keys.timeline(u), u)
        assert [await nodes.client.get(keys.timeline(u)) for u in users] == [str(u).encode() for u in users]
    finally:
        await nodes.aclose()
