"""`build_app(settings)`: the Faust app and its agents. Agents stay thin: they move events from a
stream to the projector and record progress; the rules live in projections/."""

from __future__ import annotations

from typing import Any

import faust

from infra.kafka import security
from infra.settings import Settings
from schemas.topics import FOLLOWS, LIKES, TWEETS, USERS
from streams.agents import Worker
from streams.fetching import Fetching, FetchingApp


def broker_credentials(settings: Settings) -> Any:
    """TLS and SASL for Faust's Kafka clients: the settings infra/kafka.py's `security` gives aiokafka."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    ssl_context = security(settings).get("ssl_context")
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context)
    return faust.SASLCredentials(username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
                                 ssl_context=ssl_context, mechanism=settings.kafka_sasl_mechanism)  # fmt: skip


def build_app(settings: Settings) -> faust.App:
    datadir = settings.state_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)  # Faust needs it even with in-memory tables
    brokers = ";".join(f"kafka://{b.strip()}" for b in settings.kafka_bootstrap.split(","))
    app = FetchingApp(
        settings.worker_group,
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=settings.worker_commit_interval_s,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
        web_enabled=False,
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
    )
    app.chirp_fetching = Fetching(settings.worker_fetch_min_bytes, settings.worker_fetch_max_wait_ms)
    worker = Worker(settings, app)

    def topic(*names: str) -> faust.TopicT:
        return app.topic(*names, value_serializer="raw", key_serializer="raw")

    prefix = settings.topic_prefix
    # tweets and follows are co-partitioned: one agent takes both, so an author's posts and the
    # changes to their followers are applied in one order, by one task.
    timeline_topics = topic(TWEETS.kafka_name(prefix), FOLLOWS.kafka_name(prefix))

    @app.agent(timeline_topics, concurrency=1, name="timelines")
    async def timelines(stream: faust.StreamT[bytes]) -> None:
        await worker.consume(stream, "timelines")

    @app.agent(topic(LIKES.kafka_name(prefix)), concurrency=1, name="likes")
    async def likes(stream: faust.StreamT[bytes]) -> None:
        await worker.consume(stream, "likes")

    @app.agent(topic(USERS.kafka_name(prefix)), concurrency=1, name="users")
    async def users(stream: faust.StreamT[bytes]) -> None:
        await worker.consume(stream, "users")

    if settings.worker_align_ms > 0:

        @app.timer(interval=max(settings.worker_align_ms / 2000, 0.05))  # type: ignore[untyped-decorator]
        async def release_held() -> None:
            """Held records are released as batches arrive; this covers a pause with nothing arriving."""
            await worker.release_overdue()

    app.chirp_worker = worker  # type: ignore[attr-defined]
    return app
