"""A Redis Cluster on this machine (three primaries on 127.0.0.1-3, started by the launcher for this module
and stopped after): keys are grouped by the node that serves them, and a script that touches keys of several
local slots runs where they live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import redisnodes
from infra.services import launcher
from infra.settings import Settings
from ops.chaos import free_port
from projections.stores.keys import RedisKeys

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    port = next(p for p in iter(free_port, None) if p <= 55535)  # its cluster bus listens 10,000 above
    nodes = ",".join(f"127.0.0.{i}:{port}" for i in (1, 2, 3))
    s = Settings(redis_cluster_nodes=nodes, redis_url=f"redis://127.0.0.1:{port}/0",
                 state_dir=Path(tmp_path_factory.mktemp("rediscluster")))  # fmt: skip
    try:
        launcher.up(s, "redis", report=print)
        yield s
    finally:
        launcher.down(s, "redis", report=print)


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
