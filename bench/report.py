"""The summary table: each figure (the median of the run's trials, with their min-max), its target from
DESIGN.md, and its ratio to the same-run baseline (a ratio of medians); Redis's cost of the fan-out; the
hotspots py-spy saw; and the run's row for the history table in docs/benchmarks.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TARGETS = {
    "deliveries_per_s": 100_000,
    "delay_p99_ms": 250,
    "reads_per_s": 5_000,
    "read_p99_ms": 50,
    "ingest_read_share": 0.7,  # reads at half the fan-out capacity, against idle (c=16)
    "saturation_read_p99_ms": 100,
    "posts_per_s": 3_000,
    "post_p99_ms": 100,
    "replay_events_per_s": 50_000,
    "redis_bytes_per_entry": 40,
}
HISTORY_HEAD = (
    "| date | commit | profile | fan-out deliveries/s | vs naive | vs Stream-Framework | reads idle c=16 (p99 ms) "
    "| reads at half capacity c=16: share of idle (p99 ms) | post → visible p99 ms | posts/s | replay events/s |"
)
HOTSPOTS = 8
DASH = "\u2013"  # min-max


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "n/a"


def _mark(ok: bool) -> str:
    return "meets" if ok else "below"


def spread(x: dict[str, Any], key: str, fmt: str = ",.0f") -> str:
    """`median (min-max)` of a summarized figure; the median alone if it has no spread."""
    lo_hi = x.get("spread", {}).get(key)
    text = format(x[key], fmt)
    return f"{text} ({format(lo_hi[0], fmt)}{DASH}{format(lo_hi[1], fmt)})" if lo_hi else text


def read_cell(x: dict[str, Any]) -> str:
    """`rps (spread); p50 / p99 (spread)` of a summarized wrk figure, with its failed requests if any."""
    failed = sum(t["errors"] + t["non2xx"] for t in x.get("trials", [x]))
    errors = f"; {failed:,} failed requests" if failed else ""
    return f"{spread(x, 'rps')}; {x['p50_ms']:.1f} / {spread(x, 'p99_ms', '.1f')}{errors}"


def _by_c(runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(x["connections"]): x for x in runs}


def ingest_share(out: dict[str, Any], c: int = 16) -> float | None:
    idle, busy = _by_c(out["reads"]["idle"]).get(c), _by_c(out["reads"]["half_capacity"]).get(c)
    return busy["rps"] / idle["rps"] if idle and busy and idle["rps"] else None


def rows(out: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(figure, chirp, baseline, ratio, target) rows."""
    r: list[tuple[str, str, str, str, str]] = []
    fan, naive = out["fanout"], out.get("naive_fanout", {})
    d = fan["deliveries_per_s"]
    r.append(
        (
            "fan-out deliveries/s (bulk, sustained)",
            spread(fan, "deliveries_per_s"),
            f"{spread(naive, 'deliveries_per_s')} naive per-follower ZADD" if naive else "",
            _ratio(d, naive.get("deliveries_per_s")),
            f"≥100,000: {_mark(d >= TARGETS['deliveries_per_s'])}",
        )
    )
    sf = out.get("stream_framework")
    if sf:
        r.append(
            (
                "fan-out deliveries/s vs Stream-Framework 1.4.0",
                spread(fan, "deliveries_per_s"),
                spread(sf, "deliveries_per_s"),
                _ratio(d, sf["deliveries_per_s"]),
                "",
            )
        )
    r.append(
        (
            "fan-out, Redis: CPU µs per delivery; LPUSH, LINDEX, ZADD µs per call; EVALSHA µs per call",
            f"{spread(fan, 'redis_cpu_us_per_delivery', '.2f')}; {spread(fan, 'lpush_usec_per_call', '.2f')}, "
            f"{spread(fan, 'lindex_usec_per_call', '.2f')}, {spread(fan, 'zadd_usec_per_call', '.2f')}; "
            f"{spread(fan, 'evalsha_usec_per_call', '.1f')}",
            f"{naive['redis_cpu_us_per_delivery']:.2f} µs CPU per delivery, naive" if naive else "",
            "",
            f"{fan['deliveries_per_tweet']:.0f} deliveries per tweet",
        )
    )
    for name, key in (("fixed load", "fixed_load"), ("saturation", "saturation")):
        x = out["delay_ms"][key]
        if "offered_per_s" in x:  # the load as a share of what the bulk drain sustains (queueing grows with it)
            share = x["offered_per_s"] / max(fan["capacity_tweets_per_s"], 1e-9)
            name = f"{name}: {x['offered_per_s']:.0f} tweets/s, {share:.0%} of the fan-out capacity"
        r.append(
            (
                f"post → visible ms, {name} (p50 / p95 / p99)",
                f"{x['p50']:.1f} / {x['p95']:.1f} / {x['p99']:.1f}",
                "",
                "",
                f"p99 ≤250: {_mark(x['p99'] <= TARGETS['delay_p99_ms'])}" if key == "fixed_load" else "(queueing)",
            )
        )
    sql = _by_c(out.get("sql_reads", []))  # measured idle
    for x in out["reads"]["idle"]:
        base = sql.get(int(x["connections"]))
        r.append(
            (
                f"home reads/s, c={x['connections']}, idle (p50 / p99 ms)",
                read_cell(x),
                f"{read_cell(base)} PostgreSQL join" if base else "",
                _ratio(x["rps"], base["rps"]) if base else "",
                "",
            )
        )
    idle = _by_c(out["reads"]["idle"])
    ingest = out["ingest"]
    half = ingest["half_capacity"]
    for x in out["reads"]["half_capacity"]:
        c = int(x["connections"])
        share = x["rps"] / idle[c]["rps"] if c in idle and idle[c]["rps"] else 0.0
        ok = share >= TARGETS["ingest_read_share"] and x["p99_ms"] <= TARGETS["read_p99_ms"]
        r.append(
            (
                f"home reads/s, c={c}, ingest at half capacity ({half['offered_per_s']:,.0f} tweets/s offered, "
                f"{half.get('sent_per_s', 0):,.0f} sent)",
                read_cell(x),
                f"{idle[c]['rps']:,.0f} chirp idle" if c in idle else "",
                f"{share:.0%} of idle",
                f"≥70% of idle at p99 ≤50: {_mark(ok)}" if c == 16 else "",
            )
        )
    r.append(
        (
            "post → visible ms during reads at half capacity (p50 / p99)",
            f"{half['delay_ms']['p50']:.1f} / {half['delay_ms']['p99']:.1f}",
            "",
            "",
            "",
        )
    )
    sat = ingest["saturation"]
    for x in out["reads"]["saturation"]:
        ok = x["p99_ms"] <= TARGETS["saturation_read_p99_ms"]
        c = int(x["connections"])
        r.append(
            (
                f"home reads/s, c={c}, saturation ({sat['offered_per_s']:,.0f} tweets/s offered)",
                read_cell(x),
                f"{idle[c]['rps']:,.0f} chirp idle" if c in idle else "",
                f"{x['rps'] / idle[c]['rps']:.0%} of idle" if c in idle and idle[c]["rps"] else "",
                f"p99 ≤100: {_mark(ok)}",
            )
        )
    lag = sat["delay_ms"]
    r.append(
        (
            "post → visible lag at saturation, ms (p50 / p99 / max); backlog drained after",
            f"{lag['p50']:,.0f} / {lag['p99']:,.0f} / {lag['max']:,.0f}; {sat['drain_s']:.1f} s",
            "",
            "",
            "(the backlog)",
        )
    )
    p = out["posts"]
    two = out.get("two_apis")
    ok = p["rps"] >= TARGETS["posts_per_s"] and p["p99_ms"] <= TARGETS["post_p99_ms"]
    r.append(
        (
            "posts/s through the API, acks=all, one API process (p50 / p99 ms)",
            read_cell(p),
            "",
            "",
            "" if two else f"≥3,000 at p99 ≤100: {_mark(ok)}",
        )
    )
    if two:
        r += two_api_rows(two, idle.get(64), p)
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
            "Redis used memory / Cassandra keyspace on disk, after a flush",
            f"{s['redis_used_memory'] / 1e6:.1f} MB / {s['cassandra_keyspace_bytes'] / 1e6:.1f} MB",
            "",
            "",
            f"{s['cassandra_bytes_before_flush'] / 1e6:.1f} MB before the flush",
        )
    )
    return r


def history_row(out: dict[str, Any]) -> str:
    """The run as one row of docs/benchmarks.md's history table."""
    fan, naive, sf = out["fanout"], out["naive_fanout"], out.get("stream_framework", {})
    idle = _by_c(out["reads"]["idle"]).get(16)
    half = _by_c(out["reads"]["half_capacity"]).get(16)
    share = ingest_share(out)
    cells = [
        out.get("finished_at", "")[:10],
        f"`{out.get('commit', '?')}`",
        out["profile"],
        spread(fan, "deliveries_per_s"),
        _ratio(fan["deliveries_per_s"], naive["deliveries_per_s"]),
        _ratio(fan["deliveries_per_s"], sf.get("deliveries_per_s")),
        f"{idle['rps']:,.0f} ({idle['p99_ms']:.0f})" if idle else "",
        f"{share:.0%} ({half['p99_ms']:.0f})" if half and share is not None else "",
        f"{out['delay_ms']['fixed_load']['p99']:.0f}",
        f"{out['posts']['rps']:,.0f}",
        f"{out['replay']['events_per_s']:,.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def redis_table(out: dict[str, Any], top: int = 4) -> list[str]:
    """Redis's CPU and its costliest commands, phase by phase."""
    lines = ["| phase | wall s | Redis CPU s | costliest commands: calls, µs per call |", "|---|---|---|---|"]
    for name, d in out.get("redis", {}).items():
        cmds = "; ".join(f"{c} {v['calls']:,} x {v['usec_per_call']:.2f}" for c, v in list(d["commands"].items())[:top])
        reset = " (someone reset the counters during the phase: undercounted)" if d.get("counters_reset") else ""
        lines.append(f"| {name} | {d['seconds']:.1f} | {d['cpu_s']:.2f} | {cmds}{reset} |")
    return lines


def two_api_rows(
    two: dict[str, Any], one_reads: dict[str, Any] | None, one_posts: dict[str, Any]
) -> list[tuple[str, str, str, str, str]]:
    """Reads at 64 connections and posts with two API processes behind nginx, beside one process's figures."""
    reads, posts, n = two["reads"], two["posts"], two["apis"]
    reads_ok = reads["rps"] >= TARGETS["reads_per_s"] and reads["p99_ms"] <= TARGETS["read_p99_ms"]
    posts_ok = posts["rps"] >= TARGETS["posts_per_s"] and posts["p99_ms"] <= TARGETS["post_p99_ms"]
    return [
        (
            f"home reads/s, c=64, idle, {n} API processes behind nginx (p50 / p99 ms)",
            read_cell(reads),
            f"{one_reads['rps']:,.0f} one API process" if one_reads else "",
            _ratio(reads["rps"], one_reads["rps"]) if one_reads else "",
            f"≥5,000 at p99 ≤50: {_mark(reads_ok)}",
        ),
        (
            f"posts/s through the API, acks=all, {n} API processes (p50 / p99 ms)",
            read_cell(posts),
            f"{one_posts['rps']:,.0f} one API process",
            _ratio(posts["rps"], one_posts["rps"]),
            f"≥3,000 at p99 ≤100: {_mark(posts_ok)}",
        ),
    ]


def cpu_table(out: dict[str, Any], walls: Mapping[str, float] | None = None) -> list[str]:
    """CPU seconds per process, phase by phase (bench/cpu.py): who else the two cores served. `walls`: each
    phase's wall seconds (default: those of its Redis counters)."""
    phases = out.get("cpu", {})
    names = sorted({n for d in phases.values() for n in d}, key=lambda n: -sum(d.get(n, 0) for d in phases.values()))
    if not names:
        return []
    lines = ["| phase | wall s | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for phase, d in phases.items():
        wall = walls.get(phase, 0.0) if walls is not None else out.get("redis", {}).get(phase, {}).get("seconds", 0.0)
        lines.append(f"| {phase} | {wall:.1f} | " + " | ".join(f"{d.get(n, 0.0):.1f}" for n in names) + " |")
    return lines


def hotspots(out: dict[str, Any]) -> list[str]:
    lines = []
    for name, p in out.get("profiles", {}).items():
        if not p.get("file"):
            lines.append(f"- **{name}**: no profile ({p.get('error', 'py-spy did not run')})")
            continue
        top = ", ".join(f"{f} {pct:.0f}%" for f, pct in p["self_pct"][:HOTSPOTS])
        lines.append(f"- **{name}** (busy {p['busy_pct']:.0f}% of {p['seconds']:.0f} s; `{p['file']}`): {top}")
    return lines


def write_report(out: dict[str, Any], path: Path, charts: Sequence[Path] = ()) -> str:
    head = (
        f"chirp benchmark — profile {out['profile']} (seed {out['seed']}): {out['users']:,} users, "
        f"{out['follows']:,} follows, {out['tweets']:,} tweets; {out['celebrities']} celebrities "
        f"(over {out['celebrity_threshold']:,} followers); API workers: {out['api_workers']}; "
        f"figures: median (min{DASH}max) of {out['trials']} trials of {out['seconds']} s"
    )
    lines = [f"# {head}", "", "| figure | chirp | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(out)]
    lines += ["", "## Redis per phase (`INFO commandstats`, `INFO cpu` deltas)", "", *redis_table(out)]
    lines += ["", "## CPU seconds per process and phase (`/proc`; the box has 2 cores)", "", *cpu_table(out)]
    sizes = out["sizes"]
    if sizes.get("redis_families"):
        from bench.memory import table

        users = sizes.get("active_users", 0)
        lines += ["", f"## Redis memory by key family ({users:,} active users: materialized timelines)", ""]
        lines += table(sizes["redis_families"], users)
    lines += ["", "## Hotspots (py-spy, self time)", "", *hotspots(out)]
    lines += ["", "## History row (docs/benchmarks.md)", "", HISTORY_HEAD, "|---" * 11 + "|", history_row(out)]
    lines += ["", *(f"![{c.stem}]({c.name})" for c in charts)]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text
