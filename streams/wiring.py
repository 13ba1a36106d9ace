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
from projections.search import SearchProjection
from projections.stores.cassandra import CassandraProjections, CassandraRegistryBackup
from projections.stores.null import NoTimelines, ReadOnlyDurable
from projections.stores.redis import RedisProgress, RedisTimelines
from projections.stores.redis_trends import RedisTrends
from projections.stores.search_cassandra import CassandraSearchStore
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
            publish = s.redis_prefix if p.primary else ""  # only the live pass pushes to clients
            timelines: Timelines = NoTimelines()
            if p.timelines:
                timelines = RedisTimelines(
                    self.redis, prefix, s.timeline_cap, s.celebrity_threshold, s.active_window_s, publish=publish
                )
            durable: DurableProjections = store if p.durable else ReadOnlyDurable(store)
            extras = side_projections(
                s, self.redis, prefix, store.s, write_redis=p.timelines, write_cassandra=p.durable, publish=p.primary
            )
            self._built[p] = (
                Projector(durable, timelines, extras),
                RedisProgress(self.redis, v.own_prefix(s.redis_prefix)),
            )
        return self._built[p]


def side_projections(
    settings: Settings,
    redis: aioredis.Redis,
    prefix: str,
    session: Session,
    *,
    write_redis: bool,
    write_cassandra: bool,
    publish: bool = False,
) -> list[Projection]:
    """The further read models (search, trends, notifications), one list for the worker and the replays.
    `prefix` and `session` are a version's locations, there for lookups in any case; the read models kept in
    Redis are written when `write_redis`, those kept in Cassandra when `write_cassandra`. `publish`: the live
    pass, the one that pushes to connected clients."""
    out: list[Projection] = []
    if write_cassandra:
        out.append(SearchProjection(CassandraSearchStore(session)))
        out.append(_notifications(settings, redis, prefix, session, publish))
    if write_redis:
        out.append(RedisTrends(redis, prefix))
    return out


def _notifications(
    settings: Settings, redis: aioredis.Redis, prefix: str, session: Session, publish: bool
) -> Projection:
    from projections.notifications import NotificationFeed, NotificationsProjection
    from projections.queries import Queries
    from projections.stores.cassandra_notifications import CassandraNotifications
    from projections.stores.redis_notifications import RedisPendingMarks, RedisPublisher, StoreTweetAuthors

    s = settings
    durable = CassandraProjections(session)
    store = CassandraNotifications(session)
    publisher = None
    if publish:
        tl = RedisTimelines(redis, prefix, s.timeline_cap, s.celebrity_threshold, s.active_window_s)
        feed = NotificationFeed(store, Queries(tl, durable), RedisPendingMarks(redis, s.redis_prefix))
        publisher = RedisPublisher(redis, s.redis_prefix, feed)
    return NotificationsProjection(store, StoreTweetAuthors(redis, prefix, durable), publisher)


async def connect(settings: Settings) -> Stores:
    from projections.wire import set_media_base

    set_media_base(settings.media_base)  # pushed tweets carry the same media URLs as the API's pages
    cluster, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10)
    backup = await asyncio.to_thread(CassandraRegistryBackup, session)
    return Stores(settings, client, cluster, VersionRegistry(client, settings.redis_prefix, backup))
