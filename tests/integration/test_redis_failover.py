"""A 6-node Redis Cluster on this machine (two ports on each of 127.0.0.1-3, started by the launcher for this
module and stopped after), as the cluster profile has it: three primaries, each with a replica on another
address. A primary killed with kill -9 through the chaos rig's helper is replaced by its replica, which serves
its slots; started again, it rejoins as that replica's replica; stopped and started whole, the cluster is the
same one (not created again)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from redis.cluster import RedisCluster

from infra.services import launcher
from infra.services.launcher import REDIS_SLOTS, RedisNode, cluster_info, cluster_nodes
from infra.settings import REPO_ROOT, Settings
from ops.chaos import cluster_view, kill_redis_primary, rejoin_redis_node
from tests.integration.support import local_redis_cluster

pytestmark = pytest.mark.integration
KEYS = [f"failover:{i}" for i in range(300)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with local_redis_cluster(tmp_path_factory.mktemp("redisfailover"), per_address=2) as s:
        yield s


def _client(s: Settings) -> RedisCluster:
    return RedisCluster.from_url(s.redis_url, socket_timeout=3)  # the node the URL names is never the one killed


def _host(n: RedisNode) -> str:
    return n.address.rsplit(":", 1)[0]


def _served(nodes: list[RedisNode]) -> int:
    return sum(n.slot_count for n in nodes if n.primary and not n.failed)


def test_three_primaries_each_with_a_replica_on_another_address(cluster: Settings) -> None:
    nodes = cluster_view(cluster)
    primaries = {n.id: n for n in nodes if n.primary and n.slots}
    replicas = [n for n in nodes if not n.primary]
    assert len(primaries) == 3 and _served(nodes) == REDIS_SLOTS
    assert sorted(r.primary_id for r in replicas) == sorted(primaries)
    assert all(_host(r) != _host(primaries[r.primary_id]) for r in replicas), nodes

    status = subprocess.run([sys.executable, "-m", "ops.cli", "status", "--only", "redis"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env=cluster.child_env(), timeout=60)  # fmt: skip
    print(status.stdout)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = [line for line in status.stdout.splitlines() if line.startswith("redis-")]
    assert len(rows) == 6 and all(" healthy " in r and "cluster ok" in r for r in rows), rows
    assert sum(" primary, slots " in r for r in rows) == 3 and sum(" replica of " in r for r in rows) == 3, rows


async def test_the_workers_write_rounds_reach_a_replica_on_every_node(cluster: Settings) -> None:
    from infra import redisnodes
    from projections.model import TweetView
    from projections.stores.redis import RedisTimelines, Replicas

    nodes = redisnodes.connect(cluster)
    await nodes.refresh()
    tl = RedisTimelines(nodes, "wait:", 10, 10, 3600, replicas=Replicas(1, 2000))
    try:
        w = tl.writes()
        for u in range(1, 30):  # users on every node
            w.save_user(u, f"u{u}", "U")
            w.post(TweetView(50_000 + u, u, "x", datetime.now(UTC)))
        await w.flush()
        assert tl.replicas.short == 0  # every node's round was on its replica when WAIT answered
        assert len(await tl.users(list(range(1, 30)))) == 29
    finally:
        await nodes.aclose()


async def test_an_idempotency_lease_is_on_a_replica_before_the_write_runs(cluster: Settings) -> None:
    from api.idempotency import IdempotencyStore, Identities
    from infra import redisnodes
    from schemas.ids import IdGenerator

    nodes = redisnodes.connect(cluster)
    await nodes.refresh()
    store = IdempotencyStore(nodes, "idem:", 60, 10, replicas=1, wait_ms=2000)
    try:
        planned = Identities(IdGenerator(5))
        planned.plan(2)
        assert await store.begin("user:1", "k1", "d", planned) is None  # taken, and on the replica
        again = await store.begin("user:1", "k1", "d", Identities(IdGenerator(5)))
        assert again is not None and again["state"] == "running" and again["ids"] == planned.reuse_ids
    finally:
        await nodes.aclose()


def test_a_killed_primary_is_replaced_by_its_replica_and_rejoins_as_one(cluster: Settings) -> None:
    client = _client(cluster)
    try:
        for key in KEYS:
            client.set(key, key)
    finally:
        client.close()
    for n in cluster_view(cluster):  # every primary's writes are on its replica before the kill
        if n.primary:
            host, port = n.address.rsplit(":", 1)
            with contextlib.closing(launcher.redis_client(cluster, host, int(port))) as primary:
                assert primary.wait(1, 5000) == 1

    failover = kill_redis_primary(cluster)
    print(f"{failover.name} ({failover.address}) killed: {failover.replica} served its slots "
          f"{failover.takeover_s:.1f}s later")  # fmt: skip
    assert failover.address != cluster.redis_url.split("/")[2]  # the node the URL names is spared
    survivors = [(h, p) for h, p in cluster.redis_nodes if f"{h}:{p}" != failover.address]
    for h, p in survivors:
        assert cluster_info(cluster, h, p)["cluster_state"] == "ok"
        view = {n.id: n for n in cluster_nodes(cluster, h, p)}
        assert view[failover.replica_id].primary and view[failover.replica_id].slots == failover.slots
        assert view[failover.node_id].failed and _served(list(view.values())) == REDIS_SLOTS
    client = _client(cluster)
    try:
        assert [client.get(k) for k in KEYS] == [k.encode() for k in KEYS]  # nothing replicated was lost
    finally:
        client.close()

    rejoined = rejoin_redis_node(cluster, failover)
    print(f"{failover.name} rejoined as a replica of {failover.replica} in {rejoined:.1f}s")
    for h, p in cluster.redis_nodes:
        assert cluster_info(cluster, h, p)["cluster_state"] == "ok"
        view = {n.id: n for n in cluster_nodes(cluster, h, p)}
        back = view[failover.node_id]
        assert not back.primary and not back.failed and back.primary_id == failover.replica_id
        assert _served(list(view.values())) == REDIS_SLOTS


def test_a_restart_with_the_state_kept_is_the_same_cluster(cluster: Settings) -> None:
    def roles() -> set[tuple[str, bool, tuple[tuple[int, int], ...]]]:
        return {(n.id, n.primary, n.slots) for n in cluster_view(cluster)}

    before = roles()
    launcher.down(cluster, "redis", report=print)
    lines: list[str] = []
    launcher.up(cluster, "redis", report=lines.append)
    print("\n".join(lines))
    assert sum("started, ready in" in line for line in lines) == 6, lines
    assert any("cluster ok: 6 nodes, 3 primaries" in line for line in lines) and not any("created" in x for x in lines)
    assert roles() == before
    client = _client(cluster)
    try:
        assert client.get(KEYS[0]) == KEYS[0].encode()  # the append-only files kept the data
    finally:
        client.close()
