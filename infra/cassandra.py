"""Cassandra sessions and an asyncio bridge for the driver's callback futures."""

from __future__ import annotations

import asyncio
import logging
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


# Statements per unlogged batch: one request carries many (the driver's cost is per request), while a
# batch stays under Cassandra's 5 KB warning size for tweet-sized rows.
BATCH_STATEMENTS = 16


async def execute_unordered(session: Session, pending: list[tuple[Any, Any]]) -> None:
    """Timestamped upserts and deletes whose order does not matter: sent as unlogged batches, all at once."""
    requests: list[tuple[Any, Any]] = []
    for i in range(0, len(pending), BATCH_STATEMENTS):
        chunk = pending[i : i + BATCH_STATEMENTS]
        if len(chunk) == 1:
            requests.append(chunk[0])
            continue
        batch = BatchStatement(BatchType.UNLOGGED)
        for stmt, params in chunk:
            batch.add(stmt, params)
        requests.append((batch, None))
    await asyncio.gather(*(execute(session, stmt, params) for stmt, params in requests))
