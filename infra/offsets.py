"""Where the event log ends now, per partition: what "the worker is idle" is measured against."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.settings import Settings
from schemas.topics import EVENT_TOPICS, Topic


async def end_offsets(settings: Settings, topics: Sequence[Topic] = EVENT_TOPICS) -> dict[str, int]:
    """`topic:partition` -> the offset the next event will get, for every event topic (or those given)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = []
        for t in topics:
            name = t.kafka_name(settings.topic_prefix)
            await consumer._client._wait_on_metadata(name)
            parts += [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        return {f"{tp.topic}:{tp.partition}": off for tp, off in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()
