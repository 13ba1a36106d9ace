"""Failures survived on the cluster topology: under a steady load of posts, follows, likes and reads through
nginx in front of two API processes, with two stream workers sharing the partitions, one node at a time is
killed (kill -9) and started again: a Kafka broker, a Cassandra node, a Redis Cluster primary (its replica
takes over; restarted, it rejoins as a replica), a worker, an API process. For each:
the failed requests and the seconds until writes succeed again; every write answered 2xx is in the log
exactly once, every timeline equals the log's, and no healthy event is dead-lettered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.settings import REPO_ROOT, Settings
from ops.chaos import CLUSTER_SCENARIOS, Outcome, scenario, table

OUTCOMES: list[Outcome] = []


def test_every_node_answers(settings: Settings) -> None:
    status = subprocess.run([sys.executable, "-m", "ops.cli", "status"], cwd=REPO_ROOT, capture_output=True,
                            text=True, env=settings.child_env(), timeout=120)  # fmt: skip
    print(status.stdout)
    assert status.returncode == 0, status.stdout + status.stderr
    for node in ("kafka-1", "kafka-2", "kafka-3", "cassandra-1", "cassandra-2", "cassandra-3"):
        assert any(line.startswith(node) and "healthy" in line for line in status.stdout.splitlines()), node
    redis = [line for line in status.stdout.splitlines() if line.startswith("redis-")]
    assert len(redis) == 6 and all("healthy" in line and "cluster ok" in line for line in redis), redis
    assert sum(" primary, slots " in line for line in redis) == 3, redis
    assert sum(" replica of " in line for line in redis) == 3, redis


@pytest.mark.parametrize("name", CLUSTER_SCENARIOS)
def test_a_node_killed_under_load_loses_nothing(settings: Settings, name: str, tmp_path: Path) -> None:
    # the cluster is make test-cluster's own, gone after it: each scenario's keyspace stays (see `scenario`)
    out = scenario(settings, name, str(tmp_path), report=print, users=10, workers=2, apis=2, drop_keyspace=False)
    OUTCOMES.append(out)
    print(table(OUTCOMES))
    assert out.acknowledged > 50, out  # the load ran
    assert (out.missing, out.duplicated, out.wrong_timelines, out.healthy_dead_lettered) == (0, 0, 0, 0), (
        table([out]) + "\n" + "\n".join(out.notes)
    )
