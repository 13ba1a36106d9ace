"""Peer baseline: Stream-Framework 1.4.0 (Python feeds on Redis) doing its own batched fan-out of the
same tweets to the same followers. SF needs redis-py 2.10.6 and chirp pins 8.x, so SF runs in a venv
of its own (built once under the state dir) and reports back one JSON line from bench/baselines/sf_fanout.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence, Set
from pathlib import Path
from typing import Any

VERSION = "1.4.0"
# The exact set pip resolves for SF 1.4.0 on Python 3.11 (celery for its fanout tasks, six; redis-py
# 2.10.6 because SF calls zadd(key, score, member, ...), which redis-py 3 changed).
PINS = (
    f"stream-framework=={VERSION}",
    "redis==2.10.6",
    "celery==5.7.0",
    "kombu==5.7.0",
    "amqp==5.4.2",
    "billiard==4.3.2",
    "vine==5.1.0",
    "click==8.5.1",
    "click-didyoumean==0.3.1",
    "click-plugins==1.1.1.2",
    "click-repl==0.4.1",
    "prompt_toolkit==3.0.53",
    "wcwidth==0.9.4",
    "python-dateutil==2.9.0.post0",
    "six==1.17.0",
    "typing_extensions==4.16.0",
    "tzlocal==5.4.5",
)
SCRIPT = Path(__file__).with_name("sf_fanout.py")


def _log(message: str) -> None:
    print(f"stream-framework: {message}", file=sys.stderr, flush=True)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_venv(state_dir: Path) -> Path:
    """The SF venv's python; built on first use and rebuilt only when the pins change (a marker file
    holds the pins it was built with)."""
    venv = state_dir / "bench" / "stream-framework-venv"
    python = venv / "bin" / "python"
    marker = venv / "chirp-pins.txt"
    wanted = "\n".join(PINS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    _log(f"building its venv at {venv}")
    t0 = time.monotonic()
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = (
        # chirp's interpreter is Python 3.11 (pyproject's requires-python), the one SF is measured on.
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
    )
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"building the Stream-Framework venv failed: {' '.join(cmd[:4])}\n{_tail(done.stderr)}")
    marker.write_text(wanted)
    _log(f"venv ready in {time.monotonic() - t0:.1f}s")
    return python


def run(
    redis_url: str,
    state_dir: Path,
    key_prefix: str,
    followers: dict[int, list[int]],
    tweets: Sequence[tuple[int, int, float]],
    seconds: float,
    skip_authors: Set[int] = frozenset(),
    max_length: int = 800,
) -> dict[str, Any]:
    """Times SF's fan-out of `tweets` (in order, until `seconds` pass) and measures its Redis footprint.

    Deliveries count what chirp counts: one per follower feed written plus one for the author's own
    feed (SF's user feed). Authors in `skip_authors` (chirp's celebrities, merged at read time) are
    posted to their own feed but not fanned out, as chirp does. `max_length` is SF's feed trim length;
    pass chirp's timeline cap so both keep timelines of the same size. Every key written starts with
    `key_prefix` and is deleted before this returns.

    Returns sf_fanout.py's figures: deliveries, seconds, deliveries_per_s, redis_bytes_per_entry and
    timelines_sampled (the followers' feeds, measured like chirp's timelines), version, the split of
    deliveries (fanout_deliveries, own_feed_deliveries), user_feed_bytes_per_entry,
    activity_storage_bytes_per_activity (SF keeps each activity once, apart from the feeds) and
    redis_ping_ms_p50/_max (SF pays a round trip per delivery: a busy shared Redis shows there first).
    """
    python = ensure_venv(state_dir)
    spec: dict[str, Any] = {
        "redis_url": redis_url,
        "key_prefix": key_prefix,
        "followers": {str(a): fs for a, fs in followers.items()},
        "tweets": [list(t) for t in tweets],
        "skip_authors": sorted(skip_authors),
        "seconds": seconds,
        "max_length": max_length,
    }
    with tempfile.TemporaryDirectory(prefix="chirp-sf-") as tmp:
        path = Path(tmp) / "workload.json"
        path.write_text(json.dumps(spec))
        _log(f"{VERSION} fan-out of up to {len(tweets)} tweets for {seconds:g}s")
        try:
            done = subprocess.run(
                # -I: isolated, above all without the script's folder on sys.path, where this
                # module's name would shadow the stream_framework package.
                [str(python), "-I", str(SCRIPT), str(path)],
                capture_output=True,
                text=True,
                check=False,
                timeout=seconds * 3 + 300,
            )
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"the Stream-Framework fan-out did not finish within {e.timeout:.0f}s") from e
    if done.returncode != 0:
        raise RuntimeError(f"the Stream-Framework fan-out failed (exit {done.returncode}):\n{_tail(done.stderr)}")
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if len(lines) != 1:
        raise RuntimeError(f"the Stream-Framework fan-out printed no result:\n{_tail(done.stdout + done.stderr)}")
    result: dict[str, Any] = json.loads(lines[0])
    _log(f"{result['deliveries_per_s']:,.0f} deliveries/s, {result['redis_bytes_per_entry']:.1f} B/entry")
    return result
