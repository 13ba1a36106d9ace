"""Idempotent set-up of the data stores: Kafka topics from the registry, CQL migrations in order, the media
bucket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from cassandra import AlreadyExists, InvalidRequest, OperationTimedOut
from cassandra.cluster import NoHostAvailable, Session

from infra.cassandra import connect
from infra.kafka import admin_client
from infra.settings import Settings
from schemas.topics import ALL_TOPICS, COPARTITIONED, EVENT_TOPICS, Topic

log = logging.getLogger("chirp.migrate")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.cql")


class MigrationError(RuntimeError):
    pass


def topic_config(topic: Topic, settings: Settings) -> dict[str, str]:
    """Event topics are the system of record: kept forever, never compacted. A compacted (state) topic
    keeps each key's last value, forever too. Records carry the time the partition leader appended them
    (`LogAppendTime`), which orders the durable projections' writes (projections/logclock.py)."""
    return {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "compact" if topic.compacted else "delete",
        "min.insync.replicas": str(settings.min_insync_replicas),
        "message.timestamp.type": "LogAppendTime",
    }


async def ensure_topics(settings: Settings, report: Callable[[str], None] = log.info) -> None:
    admin = admin_client(settings, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in ALL_TOPICS if t.kafka_name(settings.topic_prefix) not in existing]
        new = [
            NewTopic(
                t.kafka_name(settings.topic_prefix),
                settings.partitions,
                settings.kafka_replication_factor,
                topic_configs=topic_config(t, settings),
            )
            for t in wanted
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process raced us; fine
                await admin.create_topics(new)
        for t in wanted:
            report(f"topic {t.kafka_name(settings.topic_prefix)} created ({settings.partitions} partitions)")
        await _configure_existing(admin, settings, [t for t in ALL_TOPICS if t not in wanted])
        await _check_partitions(admin, settings)
    finally:
        await admin.close()


async def _configure_existing(admin: AIOKafkaAdminClient, settings: Settings, topics: list[Topic]) -> None:
    """Brings topics made by an older chirp to today's configuration (the whole set: Kafka's AlterConfigs
    resets what it is not given)."""
    if topics:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t.kafka_name(settings.topic_prefix), topic_config(t, settings))
             for t in topics]
        )  # fmt: skip


async def _check_partitions(admin: AIOKafkaAdminClient, settings: Settings) -> None:
    names = [t.kafka_name(settings.topic_prefix) for t in EVENT_TOPICS]
    described = await admin.describe_topics(names)
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    co = {counts.get(t.kafka_name(settings.topic_prefix)) for t in COPARTITIONED}
    if len(co) != 1:
        raise MigrationError(
            f"co-partitioned topics disagree on partition counts: {counts}; tweets and follows must match"
        )


def migration_files() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS.glob("*.cql")):
        m = _NAME.fullmatch(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migrations are named NNNN_name.cql")
        found.append((int(m.group(1)), m.group(2), path))
    return found


def statements(path: Path) -> list[str]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def ensure_keyspace(settings: Settings, report: Callable[[str], None] = log.info) -> None:
    """The configured keyspace, and every keyspace a rebuild made beside it (a version may read any of them)."""
    cluster, session = connect(settings)
    try:
        apply_migrations(session, settings, report)
        for keyspace in rebuilt_keyspaces(session, settings):
            apply_migrations(session, settings.model_copy(update={"keyspace": keyspace}), report)
    finally:
        cluster.shutdown()


def rebuilt_keyspaces(session: Session, settings: Settings) -> list[str]:
    """`<keyspace>_vN`: the keyspaces `chirp replay projections|all` made."""
    rebuilt = re.compile(re.escape(settings.keyspace) + r"_v\d+")
    rows = session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
    return sorted(r.keyspace_name for r in rows if rebuilt.fullmatch(r.keyspace_name))


def apply_migrations(session: Session, settings: Settings, report: Callable[[str], None] = log.info) -> None:
    ks = settings.keyspace
    schema_change(
        session, settings,
        f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {settings.cassandra_replication_factor}}}",
    )  # fmt: skip
    session.set_keyspace(ks)
    schema_change(
        session, settings,
        "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)",
    )  # fmt: skip
    done = {row.version for row in session.execute("SELECT version FROM schema_migrations")}
    for version, name, path in migration_files():
        if version in done:
            continue
        for stmt in statements(path):
            schema_change(session, settings, stmt)
        session.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
            (version, name, datetime.now(UTC)),
        )
        report(f"cql migration {version:04d}_{name} applied to keyspace {ks}")


def schema_change(session: Session, settings: Settings, stmt: str) -> None:
    """One schema statement, tried again on another coordinator when it times out, then held until every node
    that is up agrees on the schema. A cluster just past a node's restart can leave one coordinator's schema
    work stalled for a while; the statement applied elsewhere is what the next one needs. A try that timed out
    may have been applied after all: the retry's "already exists" then means done."""
    attempts = settings.cassandra_schema_attempts
    for attempt in range(1, attempts + 1):
        try:
            session.execute(stmt, timeout=settings.cassandra_schema_timeout_s)
            break
        except (OperationTimedOut, NoHostAvailable) as exc:
            if attempt == attempts:
                raise
            log.warning("schema statement timed out (try %d of %d), trying again: %s", attempt, attempts, exc)
        except (AlreadyExists, InvalidRequest) as exc:
            if attempt == 1 or not _already_applied(exc):
                raise
            break
    agreed = session.cluster.control_connection.wait_for_schema_agreement(wait_time=settings.cassandra_schema_timeout_s)
    if not agreed:
        log.warning("the nodes did not agree on the schema within %.0fs", settings.cassandra_schema_timeout_s)


def _already_applied(exc: Exception) -> bool:
    return isinstance(exc, AlreadyExists) or "already exist" in str(exc)


def migrate(settings: Settings, report: Callable[[str], None] = log.info) -> None:
    asyncio.run(ensure_topics(settings, report))
    ensure_keyspace(settings, report)
    if settings.media_storage:
        from infra.objectstore import ensure_bucket

        if ensure_bucket(settings):  # like the topics and migrations: only what this run changed is reported
            report(f"media: bucket {settings.s3_bucket} created at {settings.s3_endpoint}")


# Command-side state the API writes directly (and the migration log): never a projection, never rebuilt.
COMMAND_TABLES = frozenset({
    "handles", "auth_tokens", "accounts", "schema_migrations", "read_model_versions",
    "oauth_apps", "oauth_codes", "credentials", "emails",
})  # fmt: skip


def remove_projections(settings: Settings, keyspace: str) -> None:
    """Removes a retired version's durable projections: a rebuilt version's keyspace is dropped; the configured
    keyspace keeps its command-side tables and has only its projection tables emptied."""
    cluster, session = connect(settings)
    try:
        if keyspace != settings.keyspace:
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
            return
        rows = session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))
        for table in sorted({r.table_name for r in rows} - COMMAND_TABLES):
            session.execute(f"TRUNCATE {keyspace}.{table}", timeout=120)
    finally:
        cluster.shutdown()


def drop(settings: Settings, keyspaces: bool = True) -> None:
    """Deletes a whole deployment's topics and keyspace: for throwaway ones (tests, benchmarks), never live data.
    `keyspaces=False` leaves the keyspaces to go with a throwaway cluster (see ops/chaos.py)."""
    if keyspaces:
        cluster, session = connect(settings)
        try:
            for ks in [settings.keyspace, *rebuilt_keyspaces(session, settings)]:
                session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        finally:
            cluster.shutdown()

    async def drop_topics() -> None:
        admin = admin_client(settings)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            names = [t.kafka_name(settings.topic_prefix) for t in ALL_TOPICS]
            await admin.delete_topics([n for n in names if n in existing])
        finally:
            await admin.close()

    asyncio.run(drop_topics())
