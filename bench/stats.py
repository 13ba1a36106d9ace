"""Trials and counters: the median of repeated measurements with its spread, and what Redis itself reports
about a phase (`INFO commandstats` and `INFO cpu` before and after, as deltas)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

SPREAD_KEYS = ("deliveries_per_s", "events_per_s", "rps", "p50_ms", "p99_ms", "redis_cpu_us_per_delivery",
               "zadd_usec_per_call", "evalsha_usec_per_call", "lpush_usec_per_call",
               "lindex_usec_per_call", "deliveries_per_worker_cpu_s", "reads_per_api_cpu_s",
               "drain_s")  # fmt: skip


def summarize(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One figure from several trials: the median of every numeric field (ratios are taken between medians),
    `spread` [min, max] of the headline ones, and every trial as measured."""
    if not trials:
        raise ValueError("no trials")
    out: dict[str, Any] = {}
    for k, v in trials[0].items():
        values = [t.get(k) for t in trials]
        if isinstance(v, dict | list):
            continue  # per trial only
        if isinstance(v, bool) or not all(isinstance(x, int | float) for x in values) or len(set(values)) == 1:
            out[k] = v  # also a setting every trial shares (connections): kept as it is
        else:
            out[k] = statistics.median(values)  # type: ignore[type-var]
    out["spread"] = {
        k: [min(t[k] for t in trials), max(t[k] for t in trials)]
        for k in SPREAD_KEYS
        if all(isinstance(t.get(k), int | float) for t in trials)
    }
    out["trials"] = list(trials)
    return out


class RedisCounters:
    """Redis's own accounting of a phase: CPU seconds (user + sys, the main thread and the rest) and, per
    command, calls and microseconds (commands run inside Lua scripts are counted under their own name, the
    script under `evalsha`). Redis is shared with whatever else runs on the box: small noise is possible."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client

    def snapshot(self) -> dict[str, Any]:
        cpu = self.r.info("cpu")
        stats: dict[str, Any] = self.r.info("commandstats")
        commands = {
            name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
            for name, v in stats.items()
            if name.startswith("cmdstat_")
        }
        return {
            "t": time.monotonic(),
            "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
            "commands": commands,
        }

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        commands = {}
        # CONFIG RESETSTAT (by anyone: Redis is shared) zeroes the command counters: a command whose calls went
        # down counts from zero, and the phase is flagged (its figures then undercount)
        reset = any(calls < before["commands"].get(name, (0, 0))[0] for name, (calls, _) in after["commands"].items())
        for name, (calls, usec) in after["commands"].items():
            c0, u0 = before["commands"].get(name, (0, 0))
            if calls < c0:
                c0, u0 = 0, 0
            if calls > c0:
                n, us = calls - c0, usec - u0
                commands[name] = {"calls": n, "usec": us, "usec_per_call": us / n}
        ordered = dict(sorted(commands.items(), key=lambda kv: -kv[1]["usec"]))
        return {
            "seconds": after["t"] - before["t"],
            "cpu_s": after["cpu_s"] - before["cpu_s"],
            "commands": ordered,
            "counters_reset": reset,
        }

    def measure(self, fn: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
        before = self.snapshot()
        result = fn()
        return result, self.delta(before, self.snapshot())


def usec_per_call(delta: dict[str, Any], command: str) -> float:
    c = delta["commands"].get(command)
    return float(c["usec_per_call"]) if c else 0.0


def rewrite_aof_if_due(client: redis.Redis, share: float = 0.5, timeout_s: float = 300) -> bool:
    """Compacts Redis's append-only file now, between measurements, if it has grown `share` of the way to Redis's
    own automatic rewrite (auto-aof-rewrite-percentage / -min-size): a rewrite forks a child that takes a core
    for seconds, and one landing inside a 10 s trial on two cores skews that trial alone. Appends and their
    fsync every second still run during every measurement. Returns whether it rewrote."""
    info: dict[str, Any] = client.info("persistence")
    config: dict[Any, Any] = client.config_get("auto-aof-rewrite-*")
    pct = int(config.get("auto-aof-rewrite-percentage", 0))
    if not info.get("aof_enabled") or not pct:
        return False
    base, size = int(info.get("aof_base_size", 0)), int(info.get("aof_current_size", 0))
    trigger = max(int(config.get("auto-aof-rewrite-min-size", 0)), base * (100 + pct) // 100)
    if size < base + share * (trigger - base):
        return False
    if not (info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")):
        client.bgrewriteaof()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now: dict[str, Any] = client.info("persistence")
        if not (now.get("aof_rewrite_in_progress") or now.get("aof_rewrite_scheduled")):
            return True
    return True
