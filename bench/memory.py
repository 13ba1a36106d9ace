"""Redis memory by key family (issue: "Redis memory per active user and per timeline entry reported and
explained key family by key family"): every key of the run's prefix is counted by family (the text between
the prefix and the first ':'), a sample of each family is measured with MEMORY USAGE, and the family's total
is the sample's mean times its count. Entries are what the family holds (list or sorted-set members less a
timeline's sentinel, set members, hash fields), so bytes per entry can be read beside the bytes per key."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import redis

SAMPLE = 300
WHAT = {
    "hl": "home timelines (lists of 16-byte entries, newest first, one sentinel)",
    "hx": "timeline inboxes (sorted sets of entries that arrived out of order, folded at 128)",
    "ur": "authors' recent tweets (sorted sets, for celebrities' merge, rebuilds and follow backfill)",
    "fo": "followers (sets: the fan-out reads them)",
    "fg": "followees (sets: rebuilds and the celebrity merge read them)",
    "uf": "accounts unfollowed in the last minutes (sets: late deliveries of their tweets are dropped)",
    "t": "tweet bodies (hashes: the hydration cache, one per tweet)",
    "u": "users (hashes: handle, display name)",
    "hk": "handle owners (one string per handle: mentions resolve to users)",
    "hs": "the handle index (one sorted set of every handle: account search by prefix)",
    "lk": "likes (sets per tweet: counts)",
    "rp": "replies (sets per tweet: counts)",
    "pt": "tweets accepted by the API, not yet projected (10 min TTL)",
    "tr": "trend buckets (sorted sets per time bucket)",
    "trt": "trend dedupe (per bucket, tag and tweet)",
    "celebs": "the celebrity set",
    "stats": "worker counters and delay samples",
    "progress": "the worker's offsets",
}


def _entries(r: redis.Redis, key: bytes, kind: str) -> int:
    if kind == "list":
        return int(r.llen(key)) - 1  # less the horizon sentinel
    if kind == "zset":
        return int(r.zcard(key))
    if kind == "set":
        return int(r.scard(key))
    if kind == "hash":
        return int(r.hlen(key))
    return 1


def families(r: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    """family -> {keys, sampled, bytes (estimated total), bytes_per_key, entries (estimated), bytes_per_entry}."""
    counts: Counter[str] = Counter()
    samples: dict[str, list[bytes]] = defaultdict(list)
    skip = len(prefix.encode())
    for key in r.scan_iter(match=f"{prefix}*", count=5000):
        family = key[skip:].split(b":", 1)[0].decode(errors="replace")
        counts[family] += 1
        if len(samples[family]) < SAMPLE:
            samples[family].append(key)
    out: dict[str, dict[str, Any]] = {}
    for family, n in counts.most_common():
        used = entries = 0
        for key in samples[family]:
            used += r.memory_usage(key, samples=0) or 0
            kind = r.type(key)
            entries += _entries(r, key, kind.decode() if isinstance(kind, bytes) else str(kind))
        m = len(samples[family]) or 1
        out[family] = {
            "keys": n,
            "sampled": len(samples[family]),
            "bytes": used / m * n,
            "bytes_per_key": used / m,
            "entries": entries / m * n,
            "bytes_per_entry": used / entries if entries else 0.0,
            "what": WHAT.get(family, ""),
        }
    return out


def table(fams: dict[str, dict[str, Any]], active_users: int) -> list[str]:
    """Markdown rows of the family table, largest first, with the total per active user."""
    rows = [
        "| family | what | keys | MB (est.) | bytes per key | entries | bytes per entry | bytes per active user |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total = other = 0.0
    for name, f in sorted(fams.items(), key=lambda kv: -kv[1]["bytes"]):
        if name not in WHAT:  # the baselines' keys and the replay's scratch version: not chirp's live data
            other += f["bytes"]
            continue
        total += f["bytes"]
        rows.append(
            f"| `{name}` | {f['what']} | {f['keys']:,} | {f['bytes'] / 1e6:.1f} | {f['bytes_per_key']:,.0f} "
            f"| {f['entries']:,.0f} | {f['bytes_per_entry']:.1f} | {f['bytes'] / max(active_users, 1):,.0f} |"
        )
    rows.append(f"| all of chirp's | | | {total / 1e6:.1f} | | | | {total / max(active_users, 1):,.0f} |")
    rows.append(f"| (not counted: baselines' keys and the replay's scratch version, {other / 1e6:.1f} MB) |||||||")
    return rows
