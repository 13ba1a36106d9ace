"""`make bench-cluster`'s pure parts: fresh equal slices per drain, the order of configurations per trial, the
baseline's replication, medians with their spread, and the table built from a run's results."""

from __future__ import annotations

from typing import Any

import pytest

from bench.cluster import baseline_replication, order, render, rows, split, topology
from bench.report import DASH
from bench.stats import summarize
from infra.settings import Settings


def test_slices_are_disjoint_equal_and_start_with_the_warm_up() -> None:
    parts = split(list(range(103)), 4, warm=3)
    assert len(parts) == 4
    assert all(len(warm) == 3 and len(rest) == 22 for warm, rest in parts)
    seen = [x for warm, rest in parts for x in warm + rest]
    assert seen == list(range(100))  # in order, each once; the remainder (3) unused
    assert parts[1][0] == [25, 26, 27]
    with pytest.raises(ValueError):
        split(list(range(10)), 5, warm=2)  # slices of 2: nothing left after the warm-up


def test_every_other_trial_reverses_the_configurations() -> None:
    assert [order(i, (1, 2)) for i in range(3)] == [[1, 2], [2, 1], [1, 2]]


def test_the_baseline_changes_replication_only() -> None:
    cluster = Settings(
        kafka_bootstrap="127.0.0.1:19092,127.0.0.2:19092,127.0.0.3:19092", cassandra_hosts="127.0.0.1,127.0.0.2,"
        "127.0.0.3", kafka_replication_factor=3, cassandra_replication_factor=3,
    )  # fmt: skip
    base = cluster.model_copy(update=baseline_replication())
    t, b = topology(cluster), topology(base)
    assert (t["kafka_replication_factor"], t["kafka_min_insync_replicas"], t["cassandra_replication_factor"]) == (
        3, 2, 3,
    )  # fmt: skip
    assert (b["kafka_replication_factor"], b["kafka_min_insync_replicas"], b["cassandra_replication_factor"]) == (
        1, 1, 1,
    )  # fmt: skip
    assert t["kafka_brokers"] == b["kafka_brokers"] == 3 and t["cassandra_nodes"] == 3
    assert t["cassandra_consistency"] == "LOCAL_QUORUM" and b["cassandra_consistency"] == "LOCAL_ONE"


def _wrk(rps: float, p99: float, **extra: Any) -> dict[str, Any]:
    return {"rps": rps, "requests": int(rps * 2), "p50_ms": 2.0, "p99_ms": p99, "errors": 0, "non2xx": 0, **extra}


def _out() -> dict[str, Any]:
    fan = {
        n: summarize([{"deliveries_per_s": d, "deliveries_per_worker_cpu_s": d * 2, "cpu": {}} for d in values])
        for n, values in (("1", [100.0, 300.0, 200.0]), ("2", [390.0, 410.0, 400.0]))
    }
    reads = {
        "1": summarize([_wrk(r, 20.0, reads_per_api_cpu_s=5000.0, nginx_cpu_s=0.0) for r in (1000, 1100, 900)]),
        "2": summarize([_wrk(r, 10.0, reads_per_api_cpu_s=4000.0, nginx_cpu_s=0.5) for r in (1500, 1600, 1700)]),
    }
    posts = {
        "baseline": summarize([_wrk(r, 30.0, drain_s=1.0) for r in (800, 800, 800)]),
        "topology": summarize([_wrk(r, 60.0, drain_s=d) for r, d in ((400, 2.0), (600, 2.0), (500, 3.0))]),
    }
    s = Settings(kafka_replication_factor=3, cassandra_replication_factor=3)
    return {
        "profile": "tiny", "seed": 7, "users": 200, "follows": 2000, "tweets": 1000, "trials": 3, "seconds": 2,
        "connections": 64, "topology": topology(s),
        "baseline_replication": topology(s.model_copy(update=baseline_replication())),
        "fanout": fan, "reads": reads, "posts": posts,
        "cpu": {"fanout_1w": {"worker-1": 1.5, "redis": 0.5}, "fanout_2w": {"worker-1": 1.0, "worker-2": 1.0}},
        "wall": {"fanout_1w": 3.0, "fanout_2w": 2.0},
    }  # fmt: skip


def test_figures_are_medians_with_their_spread_and_ratios_of_medians() -> None:
    table = {figure: (base, measured, ratio) for figure, base, measured, ratio in rows(_out())}
    fan = next(v for k, v in table.items() if k.startswith("fan-out deliveries/s"))
    assert fan == (f"200 (100{DASH}300)", f"400 (390{DASH}410)", "2.00x")
    reads = next(v for k, v in table.items() if k.startswith("home reads/s"))
    assert reads[0] == f"1,000 (900{DASH}1,100); 2.0 / 20.0 (20.0{DASH}20.0)" and reads[2] == "1.60x"
    posts = next((k, v) for k, v in table.items() if k.startswith("posts/s"))
    assert "replication 1 → 3" in posts[0] and "LOCAL_QUORUM" in posts[0]
    assert posts[1][0] == f"800 (800{DASH}800); 2.0 / 30.0 (30.0{DASH}30.0)" and posts[1][2] == "0.62x"
    per_cpu = next(v for k, v in table.items() if k.startswith("home reads per API CPU-second"))
    assert per_cpu == (f"5,000 (5,000{DASH}5,000)", f"4,000 (4,000{DASH}4,000); nginx 0.5 CPU-s per trial", "0.80x")
    drain = table["the worker's catch-up after the posts, s"]
    assert drain == (f"1.00 (1.00{DASH}1.00)", f"2.00 (2.00{DASH}3.00)", "2.00x")


def test_the_report_has_the_table_and_cpu_per_process() -> None:
    text = render(_out())
    assert text.startswith("# chirp scaling — profile tiny") and "one Redis" in text
    assert "| figure | baseline (same run) | measured | ratio |" in text
    assert "| fanout_1w | 3.0 | 1.5 | 0.0 | 0.5 |" in text  # columns by total CPU: worker-1, worker-2, redis
    assert len([line for line in text.splitlines() if line.startswith("| ")]) == 1 + 6 + 1 + 2


def test_a_partial_run_renders_what_it_has() -> None:
    out = _out()
    del out["posts"], out["reads"]
    assert len(rows(out)) == 2
