"""The one place the worker process builds its dependencies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from infra import cassandra, redisnodes
from infra.settings import Settings
from projections.factory import StoreFactory, Writes
from projections.projector import Projector
from projections.stores.cassandra import CassandraRegistryBackup
from projections.stores.redis import RedisProgress
from projections.versions import Pass, VersionRegistry


@dataclass
class Stores:
    """Clients shared by every version the worker writes; a projector built per pass (version and locations)."""

    settings: Settings
    factory: StoreFactory
    registry: VersionRegistry
    _built: dict[Pass, tuple[Projector, RedisProgress]] = field(default_factory=dict)

    async def projector(self, p: Pass) -> tuple[Projector, RedisProgress]:
        """A location another pass of the batch already wrote (shared with the live version) is only read."""
        if p not in self._built:
            stores = await self.factory.version(p.version, Writes(p.timelines, p.durable, p.primary))
            self._built[p] = (stores.projector, stores.progress)
        return self._built[p]


async def connect(settings: Settings) -> Stores:
    from projections.wire import set_media_base

    set_media_base(settings.media_base)  # pushed tweets carry the same media URLs as the API's pages
    cluster, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    nodes = await redisnodes.open_nodes(settings, socket_timeout=10)
    backup = await asyncio.to_thread(CassandraRegistryBackup, session)
    factory = StoreFactory(settings, nodes, cluster)
    return Stores(settings, factory, VersionRegistry(nodes, settings.redis_prefix, backup))
