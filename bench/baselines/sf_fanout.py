# mypy: disallow-subclassing-any=False
"""Stream-Framework 1.4.0's own batched fan-out, timed on chirp's workload: run by the venv that
bench/baselines/stream_framework.py builds (redis-py 2.10.6), never by chirp's.

    python sf_fanout.py WORKLOAD.json

Standalone on purpose: it imports only the stdlib, stream_framework and redis, and reads everything
from the JSON file, so it cannot pick up chirp's modules or settings. It prints one JSON line.

What runs is SF's production path with the celery broker taken out: Manager.add_user_activity stores
the activity, adds it to the author's user feed and splits the followers into fanout_chunk_size
chunks, each a fanout task (run eagerly, in-process) that writes every follower's RedisFeed.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import redis
from celery import Celery
from stream_framework import settings as sf_settings
from stream_framework.activity import Activity
from stream_framework.feeds.redis import RedisFeed
from stream_framework.metrics.base import Metrics
from stream_framework.storage.redis.activity_storage import RedisActivityStorage
from stream_framework.verbs import register
from stream_framework.verbs.base import Verb

VERSION = "1.4.0"
SAMPLE_KEYS = 500
EPOCH = datetime(1970, 1, 1)  # SF's own naive-UTC epoch (stream_framework.utils.datetime_to_epoch)


def load_manager_module() -> ModuleType:
    """SF 1.4.0's feed_managers/base.py names a parameter `async`, a keyword since Python 3.7, so the
    file cannot be imported on 3.11 (upstream renamed it `async_` after 1.4.0 and never released it).
    The installed file is compiled with that one rename; nothing else in it changes."""
    name = "stream_framework.feed_managers.base"
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.loader is None:
        raise ImportError(name)
    source = re.sub(r"\basync\b", "async_", Path(spec.origin).read_text())
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, spec.origin, "exec"), module.__dict__)
    return module


class Tweet(Verb):
    id = 9
    infinitive = "tweet"
    past_tense = "tweeted"


register(Tweet)


class FanoutCounter(Metrics):
    """Counts what SF's fan-out tasks report as written (activities x follower feeds), so deliveries
    are SF's own tally rather than a guess from the follower lists."""

    def __init__(self) -> None:
        super().__init__()
        self.fanned_out = 0

    def on_fanout(self, feed_class: Any, operation: Any, activities_count: int = 1) -> None:
        self.fanned_out += activities_count


def configure(redis_url: str, prefix: str, max_length: int) -> None:
    """Points SF at the given Redis (read from settings.STREAM_REDIS_CONFIG at its first connection),
    puts every key under `prefix`, and makes celery run the fanout tasks in-process."""
    url = urlparse(redis_url)
    db = int(url.path.lstrip("/") or 0)
    sf_settings.STREAM_REDIS_CONFIG = {
        "default": {"host": url.hostname or "127.0.0.1", "port": url.port or 6379, "db": db, "password": url.password}
    }
    ActivityStorage.key = f"{prefix}activity"
    HomeFeed.key_format = prefix + "feed:%(user_id)s"
    UserFeed.key_format = prefix + "user:%(user_id)s"
    HomeFeed.max_length = UserFeed.max_length = max_length
    # Eager mode still round-trips each task's arguments through the serializer, as a broker would;
    # SF's tasks carry the manager, feed class and operation function, so SF deployments use pickle.
    app = Celery("sf_fanout", broker="memory://", set_as_current=True)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    app.conf.task_serializer = app.conf.result_serializer = "pickle"
    app.conf.accept_content = ["pickle"]


class ActivityStorage(RedisActivityStorage):
    """SF's sharded activity hash ({key}:0..9), under our prefix instead of 'global'."""

    key = "activity"

    def get_key(self) -> str:
        return self.key


class HomeFeed(RedisFeed):
    """The followers' timelines: the fan-out target (sorted sets of activity ids)."""

    activity_storage_class = ActivityStorage


class UserFeed(RedisFeed):
    """The author's own activities (SF's user feed, written by add_user_activity)."""

    activity_storage_class = ActivityStorage


# Fan-out tasks pickle the manager: its class and the graph it reads must be module-level names.
FOLLOWERS: dict[int, list[int]] = {}
CELEBRITIES: set[int] = set()
manager_module = load_manager_module()


class TweetManager(manager_module.Manager):  # type: ignore[name-defined]
    feed_classes = {"normal": HomeFeed}
    user_feed_class = UserFeed
    metrics = FanoutCounter()

    def get_user_follower_ids(self, user_id: int) -> dict[str, list[int]]:
        """Celebrities get no push (chirp merges them at read time): no follower groups."""
        if user_id in CELEBRITIES:
            return {}
        return {manager_module.FanoutPriority.HIGH: FOLLOWERS.get(user_id, [])}


def our_keys(r: Any, prefix: str) -> list[str]:
    """Every key under `prefix`, in one SCAN pass (the Redis is shared, so the pass walks all of it)."""
    return list(r.scan_iter(match=f"{prefix}*", count=10_000))


def memory_per_entry(r: Any, keys: list[str], count: str) -> tuple[float, int, int]:
    """MEMORY USAGE summed over up to SAMPLE_KEYS keys / their entries (as chirp's bench measures)."""
    sample = keys[:SAMPLE_KEYS]
    pipe = r.pipeline(transaction=False)
    for key in sample:
        pipe.execute_command("MEMORY", "USAGE", key)
        pipe.execute_command(count, key)  # ZCARD or HLEN
    replies = pipe.execute() if sample else []
    used = sum(int(x or 0) for x in replies[0::2])
    entries = sum(int(x or 0) for x in replies[1::2])
    return used / max(entries, 1), len(sample), entries


def ping_ms(r: Any, n: int = 200) -> tuple[float, float]:
    """PING round trips (median, max): SF pays about one per delivery, so these tell a busy shared
    Redis (stalled by other clients' scripts or AOF rewrites) from a slow fan-out."""
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        r.ping()
        samples.append(time.perf_counter() - t)
    samples.sort()
    return samples[n // 2] * 1000, samples[-1] * 1000


def cleanup(r: Any, prefix: str) -> int:
    keys = our_keys(r, prefix)
    return sum(r.delete(*keys[i : i + 1000]) for i in range(0, len(keys), 1000))


def run(spec: dict[str, Any]) -> dict[str, Any]:
    prefix: str = spec["key_prefix"]
    followers = {int(a): [int(f) for f in fs] for a, fs in spec["followers"].items()}
    tweets: list[list[float]] = spec["tweets"]
    celebrities = {int(a) for a in spec.get("skip_authors", [])}
    seconds = float(spec["seconds"])
    configure(spec["redis_url"], prefix, int(spec["max_length"]))
    FOLLOWERS.update(followers)
    CELEBRITIES.update(celebrities)
    manager = TweetManager()
    if "fanout_chunk_size" in spec:
        manager.fanout_chunk_size = int(spec["fanout_chunk_size"])
    r = redis.StrictRedis.from_url(spec["redis_url"], decode_responses=True)
    counter: FanoutCounter = manager.metrics
    home, user, act = f"{prefix}feed:", f"{prefix}user:", f"{prefix}activity:"
    posted = own = celebrity_posts = 0
    cleanup(r, prefix)  # leftovers of a run that was killed would skew the sizes
    ping_p50, ping_max = ping_ms(r)
    try:
        t0 = time.monotonic()
        for index, (_tweet_id, author, created_at) in enumerate(tweets):
            # SF packs object_id into a 10-digit field of the serialization id, too narrow for chirp's
            # 64-bit tweet ids: the tweet's position in the workload stands in for it.
            activity = Activity(int(author), Tweet, index + 1, time=EPOCH + timedelta(seconds=created_at))
            manager.add_user_activity(int(author), activity)
            posted += 1
            own += 1  # the author's own user feed
            celebrity_posts += int(author) in celebrities
            if time.monotonic() - t0 > seconds:
                break
        elapsed = time.monotonic() - t0
        deliveries = own + counter.fanned_out
        keys = our_keys(r, prefix)
        home_bpe, home_keys, home_entries = memory_per_entry(r, [k for k in keys if k.startswith(home)], "ZCARD")
        user_bpe, user_keys, _ = memory_per_entry(r, [k for k in keys if k.startswith(user)], "ZCARD")
        act_bpe, act_keys, activities = memory_per_entry(r, [k for k in keys if k.startswith(act)], "HLEN")
    finally:
        deleted = cleanup(r, prefix)
    return {
        "version": VERSION,
        "python": platform.python_version(),
        "redis_py": redis.__version__,
        "deliveries": deliveries,
        "fanout_deliveries": counter.fanned_out,
        "own_feed_deliveries": own,
        "tweets": posted,
        "tweets_offered": len(tweets),
        "celebrity_tweets": celebrity_posts,
        "seconds": elapsed,
        "deliveries_per_s": deliveries / elapsed if elapsed else 0.0,
        "tweets_per_s": posted / elapsed if elapsed else 0.0,
        "redis_bytes_per_entry": home_bpe,
        "timelines_sampled": home_keys,
        "timeline_entries_sampled": home_entries,
        "user_feed_bytes_per_entry": user_bpe,
        "user_feeds_sampled": user_keys,
        "activity_storage_bytes_per_activity": act_bpe,
        "activity_storage_keys": act_keys,
        "activities_stored": activities,
        "fanout_chunk_size": manager.fanout_chunk_size,
        "max_length": int(spec["max_length"]),
        "keys_deleted": deleted,
        "redis_ping_ms_p50": ping_p50,
        "redis_ping_ms_max": ping_max,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(run(spec)), flush=True)


if __name__ == "__main__":
    main()
