"""The one place the API process builds its dependencies (clients, stores, the event log)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request

from api import metrics
from api.idempotency import IdempotencyStore
from api.idlease import LeasedIds
from api.media import RedisUploads, Uploads
from api.push import PushHub
from api.ratelimit import RateLimits
from infra.accounts import Accounts, CassandraAccounts, TokenRevocations
from infra.eventlog import Position
from infra.markers import CassandraMarkers, MarkerStore
from infra.oauth import CassandraOAuth, OAuthStore
from infra.objectstore import ObjectStore
from infra.settings import Settings
from projections.factory import StoreFactory, VersionStores
from projections.notifications import NotificationStore, PendingMarks
from projections.ports import TrendsReader
from projections.public import PublicQueries
from projections.queries import Queries
from projections.search import SearchQueries
from projections.stores import keys
from projections.stores.cassandra import CassandraProjections, CassandraRegistryBackup
from projections.stores.redis import Progress, ReadPressure, RedisTimelines
from projections.stores.redis_nodes import RedisNodeLeases
from projections.stores.redis_positions import RedisWriteMarks
from projections.versions import VersionRegistry
from schemas.codec import default_codec
from schemas.events import Event
from schemas.ids import IdSource

log = logging.getLogger("chirp.api")


class EventLog(Protocol):
    async def append(self, event: Event) -> Position: ...


class TweetState(Protocol):
    """What commands must know of a tweet before appending: its author and whether it is deleted."""

    async def tweet_state(self, tweet_id: int) -> tuple[int | None, bool]: ...
    async def mark_pending(self, tweet_id: int, author_id: int | None) -> None: ...


class StoreTweetState:
    """Redis (projected, or accepted moments ago by this API), then Cassandra."""

    def __init__(self, timelines: RedisTimelines, durable: CassandraProjections) -> None:
        self.timelines = timelines
        self.durable = durable

    async def tweet_state(self, tweet_id: int) -> tuple[int | None, bool]:
        author, deleted = await self.timelines.tweet_state(tweet_id)
        if author is None and not deleted:
            row = (await self.durable.tweets([tweet_id])).get(tweet_id)
            if row is not None:
                return row.author_id, row.deleted
        return author, deleted

    async def mark_pending(self, tweet_id: int, author_id: int | None) -> None:
        await self.timelines.mark_pending(tweet_id, author_id)


Check = Callable[[], Awaitable[bool]]


@dataclass
class Wiring:
    settings: Settings
    events: EventLog
    accounts: Accounts
    ids: IdSource
    tweets: TweetState
    queries: Queries | None = None
    notifications: NotificationStore | None = None
    read_marks: PendingMarks | None = None
    search: SearchQueries | None = None
    public: PublicQueries | None = None  # the public timeline (projections/public.py)
    push: PushHub | None = None  # GET /timeline/stream, /timeline/ws (api/push.py)
    trends: TrendsReader | None = None
    pressure: ReadPressure | None = None  # slow reads tell the fan-out to yield (api/pressure.py)
    rate_limits: RateLimits | None = None  # None: no limits (tests built on fakes); api/throttle.py
    idempotency: IdempotencyStore | None = None  # Idempotency-Key answers (api/idempotency.py)
    oauth: OAuthStore | None = None  # OAuth applications and codes (api/mastodon/)
    write_marks: RedisWriteMarks | None = None  # each user's last write positions (api/positions.py)
    applied: Progress | None = None  # the live version's progress, which reads naming a position wait for
    markers: MarkerStore | None = None  # Mastodon read markers and the notifications' cleared floor
    uploads: Uploads = field(kw_only=True)  # required, so keyword-only: it follows fields with defaults
    media_store: ObjectStore | None = None  # S3-compatible storage, when configured (infra/objectstore.py)
    checks: dict[str, Check] = field(default_factory=dict)
    worker_degraded: Callable[[], Awaitable[str | None]] | None = None  # what a stream worker is retrying
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await close()


async def connect(settings: Settings) -> Wiring:
    """Real services: Cassandra and Redis must answer now; Kafka may come later (writes get 503)."""
    from infra import cassandra, redisnodes
    from infra.eventlog import KafkaEventLog

    cluster, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    events = KafkaEventLog(settings, default_codec())
    await events.start()
    nodes = await redisnodes.open_nodes(settings, socket_timeout=5)
    r: Any = nodes.client  # single-key commands, routed by the cluster client on a Redis Cluster

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

    async def worker_degraded() -> str | None:
        try:
            raw = await r.get(keys.worker_degraded(settings.redis_prefix))
        except Exception:
            return None  # Redis itself is what fails: its own check says so
        return (raw.decode() if isinstance(raw, bytes) else str(raw)) if raw else None

    async def close_cassandra() -> None:
        await asyncio.to_thread(cluster.shutdown)

    accounts = CassandraAccounts(
        session,
        revocations=TokenRevocations(r, settings.redis_prefix),
        token_ttl_s=settings.token_ttl_s,
        cache_s=settings.token_cache_s,
    )
    ids = LeasedIds(RedisNodeLeases(nodes, settings.redis_prefix), settings.id_lease_s)
    await ids.start()
    backup = await asyncio.to_thread(CassandraRegistryBackup, session)
    registry = VersionRegistry(nodes, settings.redis_prefix, backup)
    live = await registry.live()
    factory = StoreFactory(settings, nodes, cluster, {settings.keyspace: session}, views=True)
    stores = await factory.version(live)
    stores.timelines.start_views()
    from api.positions import PositionedLog

    marks = RedisWriteMarks(r, settings.redis_prefix, settings.write_marks_s)
    w = Wiring(
        settings=settings,
        events=PositionedLog(events, marks),
        write_marks=marks,
        accounts=accounts,
        ids=ids,
        tweets=StoreTweetState(stores.timelines, stores.durable),
        checks={"kafka": events.ready, "cassandra": cassandra_ok, "redis": redis_ok},
        worker_degraded=worker_degraded,
        closers=[close_cassandra, nodes.aclose, events.stop],
        uploads=RedisUploads(r, settings.redis_prefix),
        oauth=await asyncio.to_thread(CassandraOAuth, session),
        markers=await asyncio.to_thread(CassandraMarkers, session),
        media_store=ObjectStore(settings) if settings.media_storage else None,
    )
    _serve_version(w, stores)
    metrics.watch_views(lambda: w.queries.tl.views if w.queries is not None else None)
    follower = asyncio.create_task(_follow_live(w, factory, registry, live))
    revocations = asyncio.create_task(accounts.watch_revocations(settings.token_revocation_poll_s))
    leasing = asyncio.create_task(ids.keep())

    async def stop_views() -> None:
        if w.queries is not None:
            await w.queries.tl.stop_views()

    async def stop_following() -> None:
        follower.cancel()
        revocations.cancel()
        leasing.cancel()
        await ids.stop()

    w.closers.append(stop_following)
    w.closers.append(stop_views)
    w.pressure = ReadPressure(r, settings.redis_prefix)
    w.rate_limits = RateLimits(settings)
    w.idempotency = IdempotencyStore(
        nodes, settings.redis_prefix, settings.idempotency_ttl_s, settings.idempotency_lease_s,
        settings.redis_wait_replicas, settings.redis_wait_timeout_ms,
    )  # fmt: skip
    w.push = PushHub(nodes, settings)
    await w.push.start()
    w.closers.append(w.push.close)
    return w


def _serve_version(w: Wiring, stores: VersionStores) -> None:
    """Points reads (and the command-side tweet checks) at one version's locations."""
    w.queries, w.tweets = stores.queries, StoreTweetState(stores.timelines, stores.durable)
    w.notifications, w.read_marks = stores.notifications, stores.read_marks
    w.search = stores.search
    w.public = stores.public
    w.trends = stores.trends
    w.applied = stores.progress


async def _follow_live(w: Wiring, factory: StoreFactory, registry: Any, current: Any) -> None:
    """Re-reads the live version every CHIRP_VERSION_REFRESH_S; `chirp promote` waits longer than that
    before it removes the old version's data, so every read in flight finds whole data."""
    s = w.settings
    while True:
        await asyncio.sleep(s.version_refresh_s)
        try:
            live = await registry.live()
            if live.name != current.name:
                stores, before = await factory.version(live), w.queries
                stores.timelines.start_views()
                _serve_version(w, stores)
                if before is not None:
                    await before.tl.stop_views()
                log.info("serving read-model version %s (was %s)", live.name, current.name)
                current = live
        except Exception as exc:  # Redis or Cassandra away for a moment: keep serving the version we have
            log.warning("cannot follow the live version (%s); still serving %s", exc, current.name)


async def wiring(request: Request) -> Wiring:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request."""
    w: Wiring = request.app.state.wiring
    return w
