"""PNG charts of one benchmark run: fan-out against its baselines, read throughput and latency against the
PostgreSQL join, the post -> visible delay distribution, and every figure as a share of its target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench.report import TARGETS

CHIRP, BASE, PEER = "#1d9bf0", "#9aa5b1", "#f4a261"


def draw(out: dict[str, Any], folder: Path, stamp: str) -> list[Path]:
    """Writes the charts next to the results; returns their paths."""
    paths = []
    for name, fn in (("fanout", _fanout), ("reads", _reads), ("delays", _delays), ("targets", _targets)):
        fig = fn(out)
        path = folder / f"{stamp}-{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def _title(out: dict[str, Any], what: str) -> str:
    return f"{what} — {out['profile']} profile: {out['users']:,} users, {out['tweets']:,} tweets"


def _fanout(out: dict[str, Any]) -> Any:
    names = ["chirp (Lua, batched)", "Stream-Framework 1.4.0", "naive per-follower ZADD"]
    values = [
        out["fanout"]["deliveries_per_s"],
        out.get("stream_framework", {}).get("deliveries_per_s", 0),
        out["naive_fanout"]["deliveries_per_s"],
    ]
    runs = [out["fanout"], out.get("stream_framework", {}), out["naive_fanout"]]
    spans = [r.get("spread", {}).get("deliveries_per_s", [v, v]) for r, v in zip(runs, values, strict=True)]
    err = [
        [v - lo for (lo, _), v in zip(spans, values, strict=True)],
        [hi - v for (_, hi), v in zip(spans, values, strict=True)],
    ]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.barh(names[::-1], values[::-1], color=[BASE, PEER, CHIRP], xerr=[e[::-1] for e in err], capsize=3)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values[::-1]], padding=3)
    ax.axvline(TARGETS["deliveries_per_s"], color="crimson", ls="--", lw=1, label="target 100,000/s")
    ax.set_xlabel("timeline deliveries per second (sustained; median, bars min-max)")
    ax.set_title(_title(out, "Fan-out"), fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(0, max([*values, TARGETS["deliveries_per_s"]]) * 1.25)
    return fig


def _reads(out: dict[str, Any]) -> Any:
    fig, (rps, p99) = plt.subplots(1, 2, figsize=(10, 3.6))
    series = [
        ("chirp, idle", out["reads"]["idle"], CHIRP, "-"),
        ("chirp, ingest at half capacity", out["reads"]["half_capacity"], CHIRP, ":"),
        ("chirp, saturation", out["reads"]["saturation"], PEER, "none"),
        ("PostgreSQL join, idle", out.get("sql_reads", []), BASE, "-"),
    ]
    for label, runs, color, style in series:
        c = [r["connections"] for r in runs]
        rps.plot(c, [r["rps"] for r in runs], style, marker="o", color=color, label=label)
        p99.plot(c, [r["p99_ms"] for r in runs], style, marker="o", color=color, label=label)
    rps.axhline(TARGETS["reads_per_s"], color="crimson", ls="--", lw=1, label="target 5,000/s")
    p99.axhline(TARGETS["read_p99_ms"], color="crimson", ls="--", lw=1, label="target p99 50 ms")
    for ax, ylabel in ((rps, "home timeline reads/s (20 tweets)"), (p99, "p99 latency, ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent connections (wrk)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    p99.set_yscale("log")
    fig.suptitle(_title(out, "Home timeline reads"), fontsize=9)
    return fig


def _delays(out: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for key, label, color in (("fixed_load", "fixed load", CHIRP), ("saturation", "saturation", PEER)):
        values = sorted(out["delay_ms"][key].get("samples", []))
        if values:
            ax.plot(values, [i / len(values) for i in range(1, len(values) + 1)], color=color, label=label)
    ax.axvline(TARGETS["delay_p99_ms"], color="crimson", ls="--", lw=1, label="target p99 250 ms")
    ax.axhline(0.99, color="gray", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("post → visible in followers' timelines, ms (event time to fan-out write)")
    ax.set_ylabel("share of posts")
    ax.set_title(_title(out, "Post → visible"), fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _targets(out: dict[str, Any]) -> Any:
    """Each figure divided by its target (higher is better; latencies and sizes inverted)."""
    ingest = min(out["reads"]["half_capacity"], key=lambda r: r["connections"])
    shares = {
        "fan-out deliveries/s": out["fanout"]["deliveries_per_s"] / TARGETS["deliveries_per_s"],
        "post → visible p99": TARGETS["delay_p99_ms"] / max(out["delay_ms"]["fixed_load"]["p99"], 1e-9),
        "reads/s with ingest": ingest["rps"] / TARGETS["reads_per_s"],
        "read p99 with ingest": TARGETS["read_p99_ms"] / max(ingest["p99_ms"], 1e-9),
        "posts/s through the API": out["posts"]["rps"] / TARGETS["posts_per_s"],
        "post p99": TARGETS["post_p99_ms"] / max(out["posts"]["p99_ms"], 1e-9),
        "replay events/s": out["replay"]["events_per_s"] / TARGETS["replay_events_per_s"],
        "Redis bytes/entry": TARGETS["redis_bytes_per_entry"] / max(out["sizes"]["redis_bytes_per_entry"], 1e-9),
    }
    fig, ax = plt.subplots(figsize=(7, 3.8))
    names = list(shares)[::-1]
    values = [shares[n] for n in names]
    bars = ax.barh(names, values, color=[CHIRP if v >= 1 else PEER for v in values])
    ax.bar_label(bars, labels=[f"{v:.2f}x" for v in values], padding=3, fontsize=8)
    ax.axvline(1, color="crimson", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("share of target (≥1 meets it)")
    ax.set_title(_title(out, "Against the targets"), fontsize=9)
    return fig
