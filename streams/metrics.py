"""The worker's Prometheus metrics, served over HTTP by `serve` (prometheus_client's own server thread).

Everything is counted from the live timeline version's pass over a batch only: the worker also writes the
versions being rebuilt or followed, and counting those would multiply every rate during a rebuild.
Topics are labelled with their Kafka names (prefix included), as `chirp status` shows them.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("chirp.worker")

#: The agent whose task is running: each Faust agent's actor is a task of its own, and the events and
#: dead letters it counts are labelled with it without threading the name through every call.
AGENT: ContextVar[str] = ContextVar("chirp_agent", default="unknown")

DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

EVENTS = Counter(
    "chirp_worker_events_total",
    "Events the worker took from Kafka, by outcome: projected, or dead_lettered (undecodable, refused, failing).",
    ["agent", "topic", "outcome"],
)
DELIVERIES = Counter(
    "chirp_worker_deliveries_total", "Home-timeline deliveries (fan-out writes into a follower's timeline)."
)
DELAY = Histogram(
    "chirp_worker_delay_seconds",
    "Posts: from the event's time (occurred_at) to the end of its projection, fan-out included.",
    buckets=DELAY_BUCKETS,
)
BATCH = Histogram(
    "chirp_worker_batch_seconds",
    "Time to project one batch into every timeline version written, store retries included.",
    ["agent"],
    buckets=BATCH_BUCKETS,
)
HELD = Gauge(
    "chirp_worker_held_records",
    "Records read but held back until the partitions behind them in time catch up (streams/align.py).",
    ["agent"],
)
DEGRADED = Gauge(
    "chirp_worker_degraded",
    "Operations this worker is retrying because a store fails (down, failing over, full, busy); 0 when healthy.",
)
RETRIES = Counter(
    "chirp_worker_store_retries_total",
    "Retries of a store operation after an infrastructure error (never dead-lettered).",
    ["error"],
)
LAG = Gauge(
    "chirp_worker_consumer_lag",
    "Per assigned partition: its high-water mark minus the next offset the worker will process (after each batch).",
    ["topic", "partition"],
)

_server: Any = None


def serve(port: int) -> bool:
    """Starts the metrics endpoint once per process. A taken port only warns: metrics must never stop the
    worker (tests and benchmarks run several workers on one machine)."""
    global _server
    if port == 0 or _server is not None:
        return _server is not None
    try:
        _server, _ = start_http_server(port)
    except OSError as exc:
        log.warning("worker metrics not served: port %d: %s", port, exc)
        return False
    log.info("worker metrics at http://0.0.0.0:%d/metrics", port)
    return True


def record_projected(topics: Iterable[str], deliveries: int, delays_ms: Iterable[float]) -> None:
    """One batch of the live version: the topic of each event projected, its deliveries, its posts' delays."""
    agent = AGENT.get()
    for topic, n in Tally(topics).items():
        EVENTS.labels(agent, topic, "projected").inc(n)
    if deliveries:
        DELIVERIES.inc(deliveries)
    for ms in delays_ms:
        DELAY.observe(ms / 1000)


def record_dead_letter(topic: str) -> None:
    EVENTS.labels(AGENT.get(), topic, "dead_lettered").inc()


def highwater(consumer: Any, tp: Any) -> int | None:
    """A partition's high-water mark by the consumer's last fetch response (Faust's consumer); None before
    the first response, or when the partition is no longer assigned."""
    try:
        high: int | None = consumer.highwater(tp)
    except AssertionError:  # aiokafka asserts the partition is assigned: revoked in between
        return None
    return high


class ConsumerLag:
    """Feeds `chirp_worker_consumer_lag`. The next offset per partition is the live version's recorded
    progress (the worker skips what it records as done), the highest seen: agents merge snapshots taken at
    different times. The high-water mark is what the consumer's last fetch response said."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}
        self.shown: set[tuple[str, str]] = set()
        self.failed = False  # logged once, not after every batch

    def advance(self, offsets: Mapping[str, int]) -> None:
        """`topic:partition` -> next offset, as in the progress hash."""
        for key, offset in offsets.items():
            if offset > self.next.get(key, -1):
                self.next[key] = offset

    def update(self, consumer: Any) -> None:
        """Sets the gauge of every partition assigned to this process (Faust's consumer: `assignment()`,
        `highwater(tp)`) and drops the partitions a rebalance took away. Never raises: it runs in the
        agents' loop, which nothing may escape."""
        try:
            self._update(consumer)
        except Exception:
            if not self.failed:
                log.exception("consumer lag not measured")
            self.failed = True

    def _update(self, consumer: Any) -> None:
        shown: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            high = highwater(consumer, tp)
            if high is None:
                continue
            labels = (tp.topic, str(tp.partition))
            LAG.labels(*labels).set(max(high - self.next.get(f"{tp.topic}:{tp.partition}", 0), 0))
            shown.add(labels)
        for labels in self.shown - shown:
            LAG.remove(*labels)
        self.shown = shown
