"""The one place the worker process builds its dependencies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from cassandra.cluster import Cluster, Session

from infra import cassandra
from infra.settings import Settings
from projections.ports import DurableProjections, Projection, Timelines
from projections.projector import Projector
from projections.stores.cassandra import CassandraProjections
from projections.stores.null import NoTimelines, ReadOnlyDurable
from projections.stores.redis import RedisProgress, RedisTimelines
from projections.versions import Pass, VersionRegistry


@dataclass
class Stores:
    """Clients shared by every version the worker writes; a projector built per pass (version and locations)."""

    settings: Settings
    redis: aioredis.Redis
    cluster: Cluster
    registry: VersionRegistry
    _durable: dict[str, CassandraProjections] = field(default_factory=dict)
    _built: dict[Pass, tuple[Projector, RedisProgress]] = field(default_factory=dict)

    async def durable(self, keyspace: str) -> CassandraProjections:
        """One session per keyspace (statements are prepared against it), opened on first use."""
        if keyspace not in self._durable:
            session = await asyncio.to_thread(self.cluster.connect, keyspace)
            self._durable[keyspace] = await asyncio.to_thread(CassandraProjections, session)
        return self._durable[keyspace]

    async def projector(self, p: Pass) -> tuple[Projector, RedisProgress]:
        """A location another pass of the batch already wrote (shared with the live version) is only read."""
        if p not in self._built:
            s, v = self.settings, p.version
            store = await self.durable(v.keyspace_in(s.keyspace))
            prefix = v.prefix(s.redis_prefix)
            timelines: Timelines = (
                RedisTimelines(self.redis, prefix, s.timeline_cap, s.celebrity_threshold, s.active_window_s)
                if p.timelines
                else NoTimelines()
            )
            durable: DurableProjections = store if p.durable else ReadOnlyDurable(store)
            extras = side_projections(s, self.redis if p.timelines else None, prefix, store.s if p.durable else None)
            self._built[p] = (
                Projector(durable, timelines, extras),
                RedisProgress(self.redis, v.own_prefix(s.redis_prefix)),
            )
        return self._built[p]


def side_projections(
    settings: Settings, redis: aioredis.Redis | None, prefix: str, session: Session | None
) -> list[Projection]:
    """The further read models (search, trends, notifications), one list for the worker and the replays:
    those kept in Redis under a version's `prefix` when `redis` is given, those kept in Cassandra when
    `session` (on the keyspace to write) is given."""
    out: list[Projection] = []
    return out


async def connect(settings: Settings) -> Stores:
    cluster, _ = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10)
    return Stores(settings, client, cluster, VersionRegistry(client, settings.redis_prefix))
