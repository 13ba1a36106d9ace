"""How the worker's Kafka consumer fetches: Faust fixes aiokafka's `fetch_max_wait_ms` at 1.5 s and leaves
`fetch_min_bytes` at 1, so a broker answers a fetch as soon as one record is there. Under a steady trickle
of tweets the consumer thread then sends fetch after fetch, each carrying a few records, CPU the fan-out and
Redis wait for on a small box: at 450 tweets/s on two cores, asking for 64 KB or 10 ms instead took the worker
from 1.86 to 1.60 CPU seconds per 1,500 tweets and the broker from ~0.8 to ~0.65 (docs/benchmarks.md,
2026-12-02 evening). `FetchingApp` builds its consumer with the settings' minimum and wait
instead (`CHIRP_WORKER_FETCH_MIN_BYTES`, `CHIRP_WORKER_FETCH_MAX_WAIT_MS`): a fetch returns when that many
bytes are there or the wait is up, so a trickle costs one fetch per wait and a backlog fills each fetch.

The classes below change nothing else: each hands Faust's own construction its subclass one level down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_kafka


@dataclass(frozen=True)
class Fetching:
    min_bytes: int
    max_wait_ms: int


class _ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        fetching: Fetching | None = getattr(self.app, "chirp_fetching", None)
        if fetching is not None:  # read by AIOKafkaConsumer.start(), which builds its fetcher from them
            consumer._fetch_min_bytes = fetching.min_bytes
            consumer._fetch_max_wait_ms = fetching.max_wait_ms
        return consumer


class _Consumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_kafka.Transport):
    Consumer = _Consumer


class FetchingApp(faust.App):
    """A Faust app whose worker consumer fetches as `fetching` says (set before the app starts)."""

    chirp_fetching: Fetching | None = None

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
