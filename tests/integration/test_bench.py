"""`make bench` end to end on the tiny profile: every figure is there, with its baseline, and sane.

No assertion here is about speed: the benchmark measures, the test only checks that it measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.settings import REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--seconds", "1", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [path] = out.glob("*.json")
    return json.loads(path.read_text()), out, run.stdout


def _rate(run: dict[str, Any]) -> None:
    assert run["rps"] > 0 and run["requests"] > 0, run
    assert run["errors"] == 0 and run["non2xx"] == 0, run
    assert 0 < run["p50_ms"] <= run["p99_ms"], run


def test_fanout_and_its_baselines(results: tuple[dict[str, Any], Path, str]) -> None:
    out, _, _ = results
    assert out["profile"] == "tiny" and out["celebrities"] > 0
    assert out["fanout"]["deliveries"] > 0 and out["fanout"]["deliveries_per_s"] > 0
    assert out["naive_fanout"]["deliveries_per_s"] > 0
    sf = out["stream_framework"]
    assert sf["version"] == "1.4.0" and sf["deliveries"] > 0 and sf["deliveries_per_s"] > 0
    assert sf["redis_bytes_per_entry"] > 0


def test_delays_reads_posts_and_sql_baseline(results: tuple[dict[str, Any], Path, str]) -> None:
    out, _, _ = results
    for phase in ("fixed_load", "saturation"):
        d = out["delay_ms"][phase]
        assert d["n"] > 0 and 0 < d["p50"] <= d["p95"] <= d["p99"], d
    assert [r["connections"] for r in out["reads"]["idle"]] == [1, 16, 64]
    assert [r["connections"] for r in out["sql_reads"]] == [1, 16, 64]
    for run in [*out["reads"]["idle"], *out["reads"]["ingest"], *out["sql_reads"], out["posts"]]:
        _rate(run)


def test_replay_rebuilds_the_same_timelines(results: tuple[dict[str, Any], Path, str]) -> None:
    out, _, _ = results
    rep = out["replay"]
    assert rep["events"] > out["tweets"] and rep["events_per_s"] > 0
    assert rep["timelines"] == out["users"]
    assert rep["checked"] > 0 and rep["mismatches"] == 0, rep


def test_sizes_report_and_charts(results: tuple[dict[str, Any], Path, str]) -> None:
    out, folder, stdout = results
    assert 0 < out["sizes"]["redis_bytes_per_entry"] < 200
    assert out["sizes"]["cassandra_keyspace_bytes"] >= 0 and out["sizes"]["redis_used_memory"] > 0
    [md] = folder.glob("*.md")
    report = md.read_text()
    for figure in ("fan-out deliveries/s", "Stream-Framework", "PostgreSQL join", "post → visible",
                   "posts/s through the API", "replay events/s", "Redis bytes per timeline entry"):  # fmt: skip
        assert figure in report and figure in stdout, figure
    assert report.count("x |") >= 5  # ratios against the baselines
    charts = sorted(p.name.rsplit("-", 1)[1] for p in folder.glob("*.png"))
    assert charts == ["delays.png", "fanout.png", "reads.png", "targets.png"]
    assert all(p.stat().st_size > 10_000 for p in folder.glob("*.png"))
