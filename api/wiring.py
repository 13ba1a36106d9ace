"""The one place the API process builds its dependencies (clients, stores, the event log)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import Request

from infra.accounts import Accounts, CassandraAccounts
from infra.settings import Settings
from schemas.codec import default_codec
from schemas.events import Event
from schemas.ids import IdGenerator


class EventLog(Protocol):
    async def append(self, event: Event) -> None: ...


Check = Callable[[], Awaitable[bool]]


@dataclass
class Wiring:
    settings: Settings
    events: EventLog
    accounts: Accounts
    ids: IdGenerator
    checks: dict[str, Check] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await close()


async def connect(settings: Settings) -> Wiring:
    """Real services: Cassandra and Redis must answer now; Kafka may come later (writes get 503)."""
    import redis.asyncio as aioredis

    from infra import cassandra
    from infra.eventlog import KafkaEventLog

    cluster, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    events = KafkaEventLog(settings, default_codec())
    await events.start()
    r = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5)

    async def cassandra_ok() -> bool:
        try:
            return bool(await cassandra.execute(session, "SELECT now() FROM system.local"))
        except Exception:
            return False

    async def redis_ok() -> bool:
        try:
            return bool(await r.ping())
        except Exception:
            return False

    async def close_cassandra() -> None:
        await asyncio.to_thread(cluster.shutdown)

    return Wiring(
        settings=settings,
        events=events,
        accounts=CassandraAccounts(session),
        ids=IdGenerator(settings.effective_node_id()),
        checks={"kafka": events.ready, "cassandra": cassandra_ok, "redis": redis_ok},
        closers=[close_cassandra, r.aclose, events.stop],
    )


def wiring(request: Request) -> Wiring:
    w: Wiring = request.app.state.wiring
    return w
