"""The one place the worker process builds its dependencies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from cassandra.cluster import Session

from infra import cassandra
from infra.settings import Settings
from projections.ports import Projection
from projections.projector import Projector
from projections.stores.cassandra import CassandraProjections
from projections.stores.redis import RedisTimelines
from projections.stores.redis_trends import RedisTrends
from projections.versions import VersionRegistry
from streams.replay import ReadOnlyDurable


@dataclass
class Stores:
    """Clients shared by every version the worker writes; projectors built per version prefix."""

    settings: Settings
    redis: aioredis.Redis
    durable: CassandraProjections
    registry: VersionRegistry
    _built: dict[tuple[str, bool], tuple[Projector, RedisTimelines]] = field(default_factory=dict)

    def projector(self, prefix: str, writes_durable: bool) -> tuple[Projector, RedisTimelines]:
        """Only the live version writes Cassandra: the other versions share its durable projections."""
        key = (prefix, writes_durable)
        if key not in self._built:
            s = self.settings
            tl = RedisTimelines(self.redis, prefix, s.timeline_cap, s.celebrity_threshold, s.active_window_s)
            durable = self.durable if writes_durable else ReadOnlyDurable(self.durable)
            extras = side_projections(s, self.redis, prefix, self.durable.s if writes_durable else None)
            self._built[key] = (Projector(durable, tl, extras), tl)
        return self._built[key]


def side_projections(
    settings: Settings, redis: aioredis.Redis | None, prefix: str, session: Session | None
) -> list[Projection]:
    """The further read models (search, trends, notifications), one list for the worker and the replays:
    those kept in Redis under a version's `prefix` when `redis` is given, those kept in Cassandra when
    `session` (on the keyspace to write) is given."""
    out: list[Projection] = []
    if redis is not None:
        out.append(RedisTrends(redis, prefix))
    return out


async def connect(settings: Settings) -> Stores:
    _, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10)
    return Stores(settings, client, CassandraProjections(session), VersionRegistry(client, settings.redis_prefix))
