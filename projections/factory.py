"""The one place a read-model version's stores are built, for every process: the API (reads), the worker (one
pass per written version), a bulk rebuild, the operator commands and the benchmark.

A version is two locations (projections/versions.py): a Redis prefix and a Cassandra keyspace. Given the
settings, the clients a process shares (one Redis client, one Cassandra cluster with a session per keyspace)
and a version, `StoreFactory.version` builds its `VersionStores`: the timeline store, the durable projections,
the further read models (search, the public timeline, trends, notifications), the projector that writes them
all, the version's progress, and the read side (queries, search, the public timeline, trends, notifications).
`Writes` says which locations the process writes: a location it does not write is only read (or not touched).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import redis.asyncio as aioredis

from infra import redisnodes
from infra.cassandra import Batching
from infra.redisnodes import RedisNodes
from infra.settings import Settings
from projections.ports import DurableProjections, Projection, Timelines
from projections.projector import Projector
from projections.queries import Queries
from projections.stores.cassandra import CassandraProjections
from projections.stores.null import NoTimelines, ReadOnlyDurable
from projections.stores.redis import Pacing, ReadPressure, RedisProgress, RedisTimelines, Replicas
from projections.stores.redis_trends import RedisTrends
from projections.versions import Version

if TYPE_CHECKING:
    from projections.public import PublicQueries
    from projections.search import SearchQueries
    from projections.stores.cassandra_notifications import CassandraNotifications
    from projections.stores.redis_notifications import RedisPendingMarks
    from projections.stores.search_cassandra import CassandraSearchStore


@dataclass(frozen=True)
class Writes:
    """Which of a version's locations a process writes (none: it only reads them)."""

    timelines: bool = False  # the Redis prefix: home timelines, the fan-out graph, caches, trends
    durable: bool = False  # the keyspace: durable projections, search, notifications
    primary: bool = False  # the worker's live pass: it alone pushes to connected clients
    fan_out: bool = True  # False for a bulk rebuild: tweets recorded in the authors' lists, not fanned out


READS = Writes()


def timelines_of(
    settings: Settings, redis: aioredis.Redis | RedisNodes, version: Version, writes: Writes = READS,
    views: bool = False,
) -> RedisTimelines:  # fmt: skip
    """The version's timeline store (its Redis prefix), with the configured cap, threshold and window; `views`:
    with the configured view cache (a long-lived reader: the API), which `start_views` starts."""
    s = settings
    general: Any = redis.client if isinstance(redis, RedisNodes) else redis
    return RedisTimelines(
        redis,
        version.prefix(s.redis_prefix),
        s.timeline_cap,
        s.celebrity_threshold,
        s.active_window_s,
        push=writes.fan_out,
        publish=s.redis_prefix if writes.primary else "",
        pacing=Pacing(
            s.fanout_chunk,
            s.fanout_round,
            s.fanout_yield_ms / 1000,
            ReadPressure(general, s.redis_prefix),
            s.fanout_reading_round,
            s.fanout_reading_pause,
            s.fanout_parallel_rounds,
        ),
        rebuild_chunk=s.rebuild_chunk,
        rebuild_entries=s.rebuild_entries,
        replicas=Replicas(s.redis_wait_replicas, s.redis_wait_timeout_ms),
        view_cache=s.view_cache if views else 0,
        view_ping_s=s.view_cache_ping_s,
    )


def progress_of(
    settings: Settings, redis: aioredis.Redis | RedisNodes, version: Version, seen: RedisTimelines | None = None
) -> RedisProgress:
    """The version's own progress (never shared): the next offset per partition it has applied. `seen`: a store
    whose view cache must reflect what the progress says is applied before a reader acts on it."""
    general: Any = redis.client if isinstance(redis, RedisNodes) else redis
    settle = seen.sync_views if seen is not None and seen.views is not None else None
    return RedisProgress(general, version.own_prefix(settings.redis_prefix), settle)


class StoreFactory:
    """The clients every version of one process shares: one Redis client, one Cassandra cluster with one
    session per keyspace (statements are prepared against a keyspace), opened on first use. `sessions`: ones
    the process already has (the API's command-side session for the configured keyspace)."""

    def __init__(
        self, settings: Settings, redis: aioredis.Redis | RedisNodes, cluster: Any,
        sessions: Mapping[str, Any] | None = None, views: bool = False,
    ) -> None:  # fmt: skip
        """`views`: the timeline stores keep tweet views (CHIRP_VIEW_CACHE), for a long-lived reader (the API)."""
        self.settings = settings
        self.views = views
        self.nodes = redis if isinstance(redis, RedisNodes) else RedisNodes(redis)
        self.redis: Any = cast(
            Any, self.nodes.client
        )  # routes each single-key command (a RedisCluster, or the one Redis)
        self.cluster = cluster
        self.sessions: dict[str, Any] = dict(sessions or {})
        self._durable: dict[str, CassandraProjections] = {}

    @classmethod
    async def open(
        cls, settings: Settings, keyspace: str | None = None, socket_timeout: float | None = None
    ) -> StoreFactory:
        """New clients (close them with `close`): Redis, and Cassandra connected to `keyspace` (or the configured)."""
        from infra import cassandra

        keyspace = keyspace or settings.keyspace
        cluster, session = await asyncio.to_thread(cassandra.connect, settings, keyspace)
        return cls(
            settings, await redisnodes.open_nodes(settings, socket_timeout=socket_timeout), cluster, {keyspace: session}
        )

    async def close(self) -> None:
        await self.nodes.aclose()
        await asyncio.to_thread(self.cluster.shutdown)

    async def durable(self, keyspace: str) -> CassandraProjections:
        """The durable projections of a keyspace, one store (and session) per keyspace."""
        if keyspace not in self._durable:
            if keyspace not in self.sessions:
                self.sessions[keyspace] = await asyncio.to_thread(self.cluster.connect, keyspace)
            self._durable[keyspace] = await asyncio.to_thread(
                CassandraProjections, self.sessions[keyspace], self.settings.known_rows, Batching.of(self.settings)
            )
        return self._durable[keyspace]

    async def version(self, version: Version, writes: Writes = READS) -> VersionStores:
        durable = await self.durable(version.keyspace_in(self.settings.keyspace))
        return VersionStores(self.settings, self.nodes, version, durable, writes, self.views)


class VersionStores:
    """One version's stores, as one process uses them (`writes`). What needs Cassandra statements prepared is
    built on first use, so a process prepares only what it uses."""

    def __init__(
        self, settings: Settings, redis: aioredis.Redis | RedisNodes, version: Version, durable: CassandraProjections,
        writes: Writes, views: bool = False,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.nodes = nodes = redis if isinstance(redis, RedisNodes) else RedisNodes(redis)
        self.redis: Any = cast(Any, nodes.client)
        self.version = version
        self.writes = writes
        self.prefix = version.prefix(settings.redis_prefix)
        self.durable = durable
        self.timelines = timelines_of(settings, nodes, version, writes, views)
        self.progress = progress_of(settings, self.redis, version, self.timelines)
        self.trends = RedisTrends(nodes, self.prefix, per_call=settings.trends_per_call)
        self.queries = Queries(self.timelines, durable, settings.home_log_buckets)

    # The read side ----------------------------------------------------------------------------------

    @cached_property
    def search_store(self) -> CassandraSearchStore:
        from projections.stores.search_cassandra import CassandraSearchStore

        return CassandraSearchStore(self.durable.s, self.settings.known_rows, batching=self.durable.batching)

    @cached_property
    def search(self) -> SearchQueries:
        from projections.search import SearchQueries

        return SearchQueries(self.search_store, self.queries.hydrate, self.settings.search_budget_ms / 1000)

    @cached_property
    def public_store(self) -> CassandraSearchStore:
        """The public timeline's postings (projections/public.py), in tables of the search index's shape."""
        from projections.stores.search_cassandra import CassandraSearchStore

        return CassandraSearchStore(
            self.durable.s, self.settings.known_rows, tables="public", batching=self.durable.batching
        )

    @cached_property
    def public(self) -> PublicQueries:
        from projections.public import PublicQueries

        return PublicQueries(self.public_store, self.queries.hydrate)

    @cached_property
    def notifications(self) -> CassandraNotifications:
        from projections.stores.cassandra_notifications import CassandraNotifications

        return CassandraNotifications(self.durable.s, self.settings.known_rows, self.durable.batching)

    @cached_property
    def read_marks(self) -> RedisPendingMarks:
        """Read markers the API accepted moments ago (under the base prefix: shared by every version)."""
        from projections.stores.redis_notifications import RedisPendingMarks

        return RedisPendingMarks(self.redis, self.settings.redis_prefix)

    # The write side -----------------------------------------------------------------------------------

    def side_projections(self) -> list[Projection]:
        """The further read models (search, trends, notifications): those kept in Redis written when the
        process writes the version's prefix, those kept in Cassandra when it writes its keyspace."""
        from projections.public import PublicProjection
        from projections.search import SearchProjection

        out: list[Projection] = []
        if self.writes.durable:
            out.append(SearchProjection(self.search_store))
            out.append(PublicProjection(self.public_store))
            out.append(self._notifications())
        if self.writes.timelines:
            out.append(self.trends)
        return out

    def _notifications(self) -> Projection:
        from projections.notifications import NotificationFeed, NotificationsProjection
        from projections.stores.redis_notifications import RedisPublisher, StoreTweetAuthors

        publisher = None
        if self.writes.primary:
            feed = NotificationFeed(self.notifications, self.queries, self.read_marks)
            publisher = RedisPublisher(self.nodes, self.settings.redis_prefix, feed)
        authors = StoreTweetAuthors(self.redis, self.prefix, self.durable)
        return NotificationsProjection(self.notifications, authors, publisher)

    @cached_property
    def projector(self) -> Projector:
        """Writes what `writes` names; a location it does not write is only read (the author of a tweet an
        edit names is looked up in the durable projections in any case)."""
        timelines: Timelines = self.timelines if self.writes.timelines else NoTimelines()
        durable: DurableProjections = self.durable if self.writes.durable else ReadOnlyDurable(self.durable)
        return Projector(durable, timelines, self.side_projections())
