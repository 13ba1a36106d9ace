"""Cassandra sessions and an asyncio bridge for the driver's callback futures."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, ResponseFuture, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from infra.settings import Settings

logging.getLogger("cassandra.cluster").setLevel(logging.ERROR)


RELAXED = "relaxed"  # the execution profile of reads that tolerate a stale replica (see Settings)


def connect(settings: Settings, keyspace: str | None = None) -> tuple[Cluster, Session]:
    """A session whose statements run at `cassandra_consistency` (LOCAL_QUORUM: with replication 3, a read
    sees every acknowledged write and one node may be down), or at `cassandra_relaxed_consistency` for those
    prepared with `relaxed` (LOCAL_ONE: one replica answers)."""
    policy = TokenAwarePolicy(DCAwareRoundRobinPolicy())
    level = ConsistencyLevel.name_to_value
    profile = ExecutionProfile(
        load_balancing_policy=policy, request_timeout=10, consistency_level=level[settings.cassandra_consistency]
    )
    loose = ExecutionProfile(
        load_balancing_policy=policy, request_timeout=10,
        consistency_level=level[settings.cassandra_relaxed_consistency],
    )  # fmt: skip
    cluster = Cluster(
        settings.cassandra_contact_points,
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile, RELAXED: loose},
        connect_timeout=5,
        **credentials(settings),
    )
    return cluster, cluster.connect(keyspace)


def credentials(settings: Settings) -> dict[str, Any]:
    """Login (PasswordAuthenticator) and TLS for the driver, when the settings ask for them."""
    extra: dict[str, Any] = {}
    if settings.cassandra_username:
        from cassandra.auth import PlainTextAuthProvider

        extra["auth_provider"] = PlainTextAuthProvider(settings.cassandra_username, settings.cassandra_password)
    if settings.cassandra_ssl_cafile:
        import ssl

        extra["ssl_context"] = ssl.create_default_context(cafile=settings.cassandra_ssl_cafile)
    return extra


async def execute(
    session: Session, statement: str | PreparedStatement, params: Any = None, profile: object = EXEC_PROFILE_DEFAULT
) -> list[Any]:
    """Runs one statement without blocking the event loop; returns the first page of rows. `profile`: RELAXED
    for a read that tolerates a stale replica."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()
    rf: ResponseFuture = session.execute_async(statement, params, execution_profile=profile)

    def ok(rows: list[Any]) -> None:
        loop.call_soon_threadsafe(_settle, done, rows, None)

    def fail(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_settle, done, None, exc)

    rf.add_callbacks(ok, fail)
    return await done


def _settle(fut: asyncio.Future[list[Any]], rows: list[Any] | None, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(list(rows or []))


@dataclass(frozen=True)
class Batching:
    """How timestamped writes are grouped into unlogged batches. The driver's cost (and Cassandra's) is per
    request, so a batch carries many statements; it is cut short before its values reach `max_bytes`, under
    Cassandra's batch_size_fail_threshold (50 KiB by default), whatever the rows' sizes."""

    statements: int = 64
    max_bytes: int = 40_000

    @classmethod
    def of(cls, settings: Settings) -> Batching:
        return cls(settings.cassandra_batch_statements, settings.cassandra_batch_bytes)


BATCHING = Batching()  # the defaults, for stores built without settings (tests, tools)


def _size(params: Any) -> int:
    """A statement's values, roughly in bytes: text and blobs by length, a collection (the terms of an `IN`) by
    its elements, anything else as 16."""
    return sum(
        len(v) if isinstance(v, str | bytes) else _size(v) if isinstance(v, list | tuple | set) else 16 for v in params
    )


async def execute_unordered(session: Session, pending: list[tuple[Any, Any]], batching: Batching = BATCHING) -> None:
    """Timestamped upserts and deletes whose order does not matter: sent as unlogged batches, all at once."""
    requests: list[tuple[Any, Any]] = []
    chunk: list[tuple[Any, Any]] = []
    size = 0
    for stmt, params in pending:
        cost = _size(params)
        if chunk and (len(chunk) >= batching.statements or size + cost > batching.max_bytes):
            requests.append(_request(chunk))
            chunk, size = [], 0
        chunk.append((stmt, params))
        size += cost
    if chunk:
        requests.append(_request(chunk))
    await asyncio.gather(*(execute(session, stmt, params) for stmt, params in requests))


def _request(chunk: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    if len(chunk) == 1:
        return chunk[0]
    batch = BatchStatement(BatchType.UNLOGGED)
    for stmt, params in chunk:
        batch.add(stmt, params)
    return batch, None
