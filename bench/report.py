"""The summary table: each figure, its target from DESIGN.md, and its ratio to the same-run baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

TARGETS = {
    "deliveries_per_s": 100_000,
    "delay_p99_ms": 250,
    "reads_per_s": 5_000,
    "read_p99_ms": 50,
    "posts_per_s": 3_000,
    "post_p99_ms": 100,
    "replay_events_per_s": 50_000,
    "redis_bytes_per_entry": 40,
}


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "n/a"


def _mark(ok: bool) -> str:
    return "meets" if ok else "below"


def rows(out: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(figure, chirp, baseline, ratio, target) rows."""
    r: list[tuple[str, str, str, str, str]] = []
    fan, naive = out["fanout"], out.get("naive_fanout", {})
    d = fan["deliveries_per_s"]
    r.append(
        (
            "fan-out deliveries/s (bulk, sustained)",
            f"{d:,.0f}",
            f"{naive.get('deliveries_per_s', 0):,.0f} naive per-follower ZADD",
            _ratio(d, naive.get("deliveries_per_s")),
            f"≥100,000: {_mark(d >= TARGETS['deliveries_per_s'])}",
        )
    )
    sf = out.get("stream_framework")
    if sf:
        r.append(
            (
                "fan-out deliveries/s vs Stream-Framework 1.4.0",
                f"{d:,.0f}",
                f"{sf['deliveries_per_s']:,.0f}",
                _ratio(d, sf["deliveries_per_s"]),
                "",
            )
        )
    for name, key in (("fixed load", "fixed_load"), ("saturation", "saturation")):
        x = out["delay_ms"][key]
        r.append(
            (
                f"post → visible ms, {name} (p50 / p95 / p99)",
                f"{x['p50']:.1f} / {x['p95']:.1f} / {x['p99']:.1f}",
                "",
                "",
                f"p99 ≤250: {_mark(x['p99'] <= TARGETS['delay_p99_ms'])}" if key == "fixed_load" else "",
            )
        )
    sql = {x["connections"]: x for x in out.get("sql_reads", [])}  # measured idle
    for phase in ("idle", "ingest"):
        for x in out["reads"][phase]:
            base = sql.get(x["connections"])
            ok = x["rps"] >= TARGETS["reads_per_s"] and x["p99_ms"] <= TARGETS["read_p99_ms"]
            r.append(
                (
                    f"home reads/s, c={x['connections']}, {phase} (p50 / p99 ms)",
                    f"{x['rps']:,.0f} ({x['p50_ms']:.1f} / {x['p99_ms']:.1f})",
                    f"{base['rps']:,.0f} ({base['p50_ms']:.1f} / {base['p99_ms']:.1f}) PostgreSQL join, idle"
                    if base
                    else "",
                    _ratio(x["rps"], base["rps"]) if base else "",
                    f"≥5,000 at p99 ≤50: {_mark(ok)}" if phase == "ingest" else "",
                )
            )
    p = out["posts"]
    ok = p["rps"] >= TARGETS["posts_per_s"] and p["p99_ms"] <= TARGETS["post_p99_ms"]
    r.append(
        (
            "posts/s through the API, acks=all (p50 / p99 ms)",
            f"{p['rps']:,.0f} ({p['p50_ms']:.1f} / {p['p99_ms']:.1f})",
            "",
            "",
            f"≥3,000 at p99 ≤100: {_mark(ok)}",
        )
    )
    rep = out["replay"]
    rp = rep["events_per_s"]
    r.append(
        (
            "replay events/s (full timeline rebuild from offset 0)",
            f"{rp:,.0f}",
            "",
            "",
            f"≥50,000: {_mark(rp >= TARGETS['replay_events_per_s'])}",
        )
    )
    r.append(
        (
            "rebuild: timelines materialized/s; served pages equal to live",
            f"{rep['timelines_per_s']:,.0f}; {rep['checked'] - rep['mismatches']}/{rep['checked']}",
            "",
            "",
            "",
        )
    )
    b = out["sizes"]["redis_bytes_per_entry"]
    sfb = (sf or {}).get("redis_bytes_per_entry")
    r.append(
        (
            "Redis bytes per timeline entry",
            f"{b:.1f}",
            f"{sfb:.1f} Stream-Framework" if sfb else "",
            _ratio(sfb, b) if sfb else "",
            f"≤40: {_mark(b <= TARGETS['redis_bytes_per_entry'])}",
        )
    )
    s = out["sizes"]
    r.append(
        (
            "Redis used memory / Cassandra keyspace on disk",
            f"{s['redis_used_memory'] / 1e6:.1f} MB / {s['cassandra_keyspace_bytes'] / 1e6:.1f} MB",
            "",
            "",
            "",
        )
    )
    return r


def write_report(out: dict[str, Any], path: Path, charts: Sequence[Path] = ()) -> str:
    head = (
        f"chirp benchmark — profile {out['profile']} (seed {out['seed']}): {out['users']:,} users, "
        f"{out['follows']:,} follows, {out['tweets']:,} tweets; {out['celebrities']} celebrities "
        f"(over {out['celebrity_threshold']:,} followers); API workers: {out['api_workers']}"
    )
    lines = [f"# {head}", "", "| figure | chirp | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(out)]
    lines += ["", *(f"![{c.stem}]({c.name})" for c in charts)]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text
