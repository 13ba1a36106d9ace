"""Dead letters' Kafka I/O: reading the dead-letter and requeue-record topics, and sending letters back."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from infra import kafka
from infra.settings import Settings
from ops.deadletters.letters import DeadLetter, DeadLetterError, LetterId, Position, Requeue, requeue_records
from schemas.topics import DEAD_LETTER_REQUEUES, DEAD_LETTERS

READ_DEADLINE_S = 120.0


@dataclass(frozen=True)
class Snapshot:
    """The dead letters and requeue records as they are now."""

    letters: list[DeadLetter]
    done: dict[LetterId, Requeue]


async def read_snapshot(settings: Settings) -> Snapshot:
    try:
        letters = await _read_to_end(settings, DEAD_LETTERS.kafka_name(settings.topic_prefix))
        records = await _read_to_end(settings, DEAD_LETTER_REQUEUES.kafka_name(settings.topic_prefix))
    except DeadLetterError:
        raise
    except Exception as exc:  # aiokafka raises many types for an unreachable cluster
        raise DeadLetterError(
            f"cannot read from Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}"
        ) from exc
    return Snapshot(
        [
            DeadLetter(LetterId(r.partition, r.offset), r.key, r.value or b"", tuple(r.headers), r.timestamp)
            for r in letters
        ],
        requeue_records((r.key, r.value, r.timestamp) for r in records),
    )


async def _read_to_end(settings: Settings, topic: str) -> list[kafka.Record]:
    """Every record of a topic from its beginning up to its end offsets as of now, in log order per partition."""
    try:
        async with asyncio.timeout(READ_DEADLINE_S):
            return await kafka.read_all(settings, [topic], client_id="chirp-dlq", poll_ms=500)
    except kafka.TopicMissing:
        raise DeadLetterError(f"topic {topic} does not exist; run `chirp migrate`") from None
    except TimeoutError:
        raise DeadLetterError(f"reading {topic} did not reach its end within {READ_DEADLINE_S:.0f}s") from None


class SendFailed(DeadLetterError):
    """Kafka did not acknowledge the resent event: nothing recorded, so a later requeue may try again."""


class RecordFailed(DeadLetterError):
    """The event was resent but the record of it was not written: a second requeue would send it again."""


class Requeuer:
    """Sends dead letters back through one idempotent, acks=all producer (the API's settings).

    Each send is recorded only after Kafka acknowledged it, so nothing is lost; if the record write
    then fails, a later requeue sends the event a second time. That duplicate is harmless because
    every projection write is idempotent (and timestamped by the event time), exactly as for the
    worker's own at-least-once redeliveries. The same holds for two operators requeueing the same
    dead letter at the same moment: the check before sending is not a lock, so both may send it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout_s = settings.kafka_send_timeout_ms / 1000
        self.records_topic = DEAD_LETTER_REQUEUES.kafka_name(settings.topic_prefix)
        self.dead_letter_topic = DEAD_LETTERS.kafka_name(settings.topic_prefix)
        self.producer = kafka.producer(settings, "chirp-dlq")

    async def __aenter__(self) -> Requeuer:
        try:
            await asyncio.wait_for(self.producer.start(), self.timeout_s)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), 1)
            raise DeadLetterError(f"cannot reach Kafka at {self.settings.kafka_bootstrap}: {exc!r}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.producer.stop(), self.timeout_s)

    async def requeue(self, letter: DeadLetter) -> Requeue:
        """Sends one dead letter back (its key picks the partition, as for every event), then records it."""
        origin = letter.origin
        assert origin is not None, "plan() refuses dead letters without an origin"
        trace = [("requeued_from", f"{self.dead_letter_topic}:{letter.id.partition}@{letter.id.offset}".encode())]
        partition = origin.partition if letter.key is None else None
        try:
            meta = await asyncio.wait_for(
                self.producer.send_and_wait(
                    origin.topic, letter.value, key=letter.key, partition=partition, headers=trace
                ),
                self.timeout_s,
            )
        except Exception as exc:
            raise SendFailed(
                f"{letter.id}: Kafka did not acknowledge the resent event ({exc!r}); not recorded as requeued. "
                "It may still arrive; requeueing again is safe (projections are idempotent)."
            ) from exc
        done = Requeue(Position(meta.topic, meta.partition, meta.offset), datetime.now(UTC))
        try:
            await asyncio.wait_for(
                self.producer.send_and_wait(self.records_topic, done.encode(), key=str(letter.id).encode()),
                self.timeout_s,
            )
        except Exception as exc:
            raise RecordFailed(
                f"{letter.id} was resent as {done.to}, but recording that failed ({exc!r}). Requeueing it again "
                "would send a second copy (harmless: projections are idempotent, but not needed)."
            ) from exc
        return done
