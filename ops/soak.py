"""`chirp soak` / `make soak DURATION=30m`: a steady load for a long time, watched for slow leaks.

The real worker and API run on fresh topics, keyspace and key prefix (as in `chirp chaos`); clients post,
follow and read home timelines at a fixed rate (by default about 75% of what this machine sustained in
the last `make bench`: pass `--rate` to choose). Every interval it samples the consumer lag, the resident
memory of the worker and the API, Redis's memory, and the p99 of reads and writes in that interval; at the
end it draws them (PNG) and says, for each, whether it trends upward: the slope of a least-squares line
over the second half of the run, per hour, above both a share of that half's mean and a floor per series.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra.settings import REPO_ROOT, Settings
from ops.chaos import Child, api_ready, free_port, wait_for

SERIES = ("lag", "worker_rss_mb", "api_rss_mb", "redis_mb", "read_p99_ms", "write_p99_ms")
TREND_PER_HOUR = 0.10  # a series growing by more than 10% of its level per hour is called a trend,
# provided it also grows by more than this much per hour (a lag of 0 then 5 events is not a trend)
FLOOR_PER_HOUR = {"lag": 1000.0, "worker_rss_mb": 10.0, "api_rss_mb": 10.0, "redis_mb": 10.0,
                  "read_p99_ms": 20.0, "write_p99_ms": 20.0}  # fmt: skip


@dataclass
class Samples:
    t: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SERIES})


def _rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98] if len(xs) >= 2 else (xs[0] if xs else 0.0)


def growth(t: list[float], ys: list[float]) -> tuple[float, float]:
    """(growth per hour, that as a share of the level) over the second half; (0, 0) when too short."""
    half = len(t) // 2
    xs, vs = t[half:], ys[half:]
    if len(xs) < 3 or len(set(xs)) < 2:
        return 0.0, 0.0
    per_hour = statistics.linear_regression(xs, vs).slope * 3600
    level = abs(statistics.fmean(vs))
    return per_hour, (per_hour / level if level else 0.0)


def trend(t: list[float], ys: list[float], floor_per_hour: float = 0.0) -> float:
    """Growth per hour over the second half as a share of its level, 0 unless it also exceeds the floor."""
    per_hour, share = growth(t, ys)
    return share if per_hour > floor_per_hour else 0.0


async def _load(base: str, rate: float, stop: asyncio.Event, reads: list[float], writes: list[float],
                users: int = 50) -> None:  # fmt: skip
    """Posts, follows and reads at `rate` requests per second in all (a third of them writes)."""
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=httpx.Limits(max_connections=32)) as http:
        tag = uuid.uuid4().hex[:6]
        accounts = []
        for i in range(users):
            r = await http.post("/users", json={"handle": f"s{tag}{i}", "display_name": f"Soak {i}"})
            accounts.append((r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}))
        rng = random.Random(7)
        for uid, auth in accounts:
            for other, _ in rng.sample(accounts, 10):
                if other != uid:
                    await http.post("/follow", headers=auth, json={"follower_id": uid, "followee_id": other})

        async def one(n: int) -> None:
            uid, auth = accounts[n % len(accounts)]
            t0 = time.perf_counter()
            try:
                if n % 3 == 0:
                    await http.post("/tweets", headers=auth, json={"user_id": uid, "content": f"soak {n} #s{tag}"})
                    writes.append((time.perf_counter() - t0) * 1000)
                else:
                    await http.get("/timeline", headers=auth, params={"user_id": uid, "limit": 20})
                    reads.append((time.perf_counter() - t0) * 1000)
            except httpx.HTTPError:
                pass

        n, start, pending = 0, time.monotonic(), set()
        while not stop.is_set():
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(one(n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.gather(*pending, return_exceptions=True)


async def _lag(settings: Settings) -> float:
    from infra import redisnodes
    from infra.kafka import end_offsets
    from projections.stores.redis import RedisProgress

    nodes = await redisnodes.open_nodes(settings)
    try:
        ends = await end_offsets(settings)
        done = await RedisProgress(nodes.client, settings.redis_prefix).progress()  # type: ignore[arg-type]
        return float(sum(max(0, end - done.get(k, 0)) for k, end in ends.items()))
    finally:
        await nodes.aclose()


async def _run(settings: Settings, api: Child, worker: Child, seconds: float, rate: float, every_s: float,
               report: Callable[[str], None]) -> Samples:  # fmt: skip
    from infra import redisnodes

    base = f"http://127.0.0.1:{settings.api_port}"
    stop = asyncio.Event()
    reads: list[float] = []
    writes: list[float] = []
    load = asyncio.create_task(_load(base, rate, stop, reads, writes))
    nodes = await redisnodes.open_nodes(settings)
    await nodes.refresh()  # the primaries, for their memory
    out = Samples()
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(every_s)
            if load.done():
                load.result()  # surfaces the load's error
            row = {
                "lag": await _lag(settings),
                "worker_rss_mb": _rss_mb(worker.proc.pid if worker.proc else None),
                "api_rss_mb": _rss_mb(api.proc.pid if api.proc else None),
                "redis_mb": sum([int((await r.info("memory"))["used_memory"]) for r in nodes.primaries()]) / 2**20,
                "read_p99_ms": _p99(reads),
                "write_p99_ms": _p99(writes),
            }
            reads.clear()
            writes.clear()
            out.t.append(time.monotonic() - t0)
            for k, v in row.items():
                out.values[k].append(v)
            report(f"{out.t[-1]:7.0f}s " + "  ".join(f"{k} {v:,.1f}" for k, v in row.items()))
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await load
        await nodes.aclose()
    return out


def draw(samples: Samples, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(SERIES), 1, figsize=(9, 2.2 * len(SERIES)), sharex=True)
    minutes = [t / 60 for t in samples.t]
    for ax, name in zip(axes, SERIES, strict=True):
        ax.plot(minutes, samples.values[name])
        ax.set_ylabel(name, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def soak(base: Settings, seconds: float, rate: float, every_s: float, outdir: Path,
         report: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """Runs the soak; writes `soak.json` and `soak.png` to `outdir`; returns the verdicts."""
    from infra.migrate import drop, migrate

    run = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "topic_prefix": f"soak{run}.", "keyspace": f"soak_{run}", "redis_prefix": f"soak{run}:",
        "rate_limits": "off", "api_port": free_port(), "worker_metrics_port": free_port(),
        "api_metrics_port": free_port(), "log_level": "warning",
    })  # fmt: skip
    migrate(settings, report=lambda _: None)
    outdir.mkdir(parents=True, exist_ok=True)
    worker = Child(settings, "streams", str(outdir / "worker.log"))
    api = Child(settings, "api", str(outdir / "api.log"))
    worker.start()
    api.start()
    try:
        wait_for(lambda: api_ready(f"http://127.0.0.1:{settings.api_port}"), 90, "the API to be ready")
        samples = asyncio.run(_run(settings, api, worker, seconds, rate, every_s, report))
    finally:
        api.stop()
        worker.stop()
        with contextlib.suppress(Exception):
            drop(settings)
    verdicts = {name: trend(samples.t, samples.values[name], FLOOR_PER_HOUR[name]) for name in SERIES}
    result = {
        "seconds": seconds, "rate": rate, "every_s": every_s, "t": samples.t, "values": samples.values,
        "growth_per_hour": verdicts, "trending_up": [n for n, g in verdicts.items() if g > TREND_PER_HOUR],
    }  # fmt: skip
    (outdir / "soak.json").write_text(json.dumps(result, indent=1))
    draw(samples, outdir / "soak.png")
    return result


MAX_RATE = 120.0  # what one asyncio client sends on this 2-core box beside the services without queueing itself


def default_rate() -> float:
    """Requests/s: a third are posts, at about 75% of the posts/s the last `make bench` measured here, but at
    most MAX_RATE (one load client); 150 when there is no bench result."""
    results = sorted((REPO_ROOT / "bench" / "results").glob("*.json"))
    for path in reversed(results):
        with contextlib.suppress(Exception):
            posts = float(json.loads(path.read_text())["posts"]["rps"])
            return round(min(0.75 * posts * 3, MAX_RATE), 1)
    return 150.0
