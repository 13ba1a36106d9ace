"""Redis as nodes: a general client, and for scripts and pipelines that must run where their keys live, a
client per primary and the node each key's slot belongs to. A single Redis is a cluster of one node serving
every slot, so one code path serves both: work is grouped by node, and with one node there is one group.

Keys that one script touches together carry one hash tag (`{...}`, projections/stores/keys.py), so they share
a slot; a script that touches many slots of one node (a fan-out's part for that node) declares the flag
`allow-cross-slot-keys`. When slots move (a failover, a reshard) a node answers MOVED: callers treat it as
transient (infra/faults.py), `refresh` learns the new owners, and the retry goes to the right node."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
import redis.cluster
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.connection import HiredisRespSerializer
from redis.crc import key_slot
from redis.exceptions import ClusterDownError, RedisError
from redis.maint_notifications import MaintNotificationsConfig
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis

from infra.settings import Settings

log = logging.getLogger("chirp.redis")
T = TypeVar("T")

# redis-py 8 asks a single Redis for maintenance notifications ("auto", a Redis Enterprise feature) and, while
# that setting is on, its pool no longer checks a connection before handing it out: after a restart of Redis
# (or a failover, an idle `timeout`, a CLIENT KILL) the first command on each pooled connection failed with
# "Connection closed by server". Off, the pool sees the closed socket and reconnects; nothing chirp runs sends
# those notifications.
_NO_MAINT = MaintNotificationsConfig(enabled=False)


def _opts(options: dict[str, Any]) -> dict[str, Any]:
    """Connection options every client here gets, under the caller's."""
    return {"maint_notifications_config": _NO_MAINT, **options}


class _HiredisPacking:
    """Commands packed by hiredis (C), as redis-py's synchronous connections already do: its asyncio connections
    pack in Python, ~6 us a command where hiredis takes ~1 us, and a fan-out or a replay queues hundreds of
    thousands of commands. The same bytes: str as UTF-8, numbers as their decimal text."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        """hiredis's packing of the arguments as they are: redis-py's serializer first copies them all in Python
        (for bytearray and memoryview arguments, which chirp does not send; those still go to it), ~0.3 us an
        argument, and a rebuild's script calls carry thousands. A command name with a space is split as it does."""
        name = args[0]
        if isinstance(name, str) and " " not in name:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass
        packed: list[bytes] = self._serializer.pack(*args)
        return packed


_PACKING: dict[type, type] = {}


def _hiredis_packing(client: aioredis.Redis) -> aioredis.Redis:
    """`client` with its pool's connections (plain, TLS or a Unix socket, as its URL chose) packing with hiredis."""
    pool = client.connection_pool
    base = pool.connection_class
    if HIREDIS_AVAILABLE and not issubclass(base, _HiredisPacking):
        if base not in _PACKING:
            _PACKING[base] = type(f"Hiredis{base.__name__}", (_HiredisPacking, base), {})
        pool.connection_class = _PACKING[base]
    return client


class RedisNodes:
    def __init__(self, client: aioredis.Redis | RedisCluster, options: dict[str, Any] | None = None) -> None:
        """`client`: the general client (a RedisCluster routes each single-key command and follows failovers);
        `options`: connection options for the per-node clients (credentials, timeouts)."""
        self.client = client
        self.options = options or {}
        self._nodes: dict[str, aioredis.Redis] = {}
        # Asked once: redis-py's clients are typing Protocols, and `isinstance` against one costs ~0.4 us, where
        # `for_key` runs for every command a pipeline queues.
        self._cluster = client if isinstance(client, RedisCluster) else None

    @property
    def cluster(self) -> RedisCluster | None:
        return self._cluster

    @property
    def spread(self) -> bool:
        """Whether more than one primary serves the slots (so a script may find a key elsewhere)."""
        cluster = self.cluster
        return cluster is not None and len(cluster.get_primaries()) > 1

    def for_key(self, key: str | bytes) -> aioredis.Redis:
        """The client of the primary that serves `key` (the one client, for a single Redis)."""
        cluster = self.cluster
        if cluster is None:
            assert isinstance(self.client, aioredis.Redis)
            return self.client
        try:
            node = cluster.nodes_manager.get_node_from_slot(key_slot(key.encode() if isinstance(key, str) else key))
        except (KeyError, IndexError):  # not learnt yet (the cluster was down when this process started)
            raise ClusterDownError("the Redis Cluster's slot owners are not known yet") from None
        return self._node_client(node)

    async def node_of(self, key: str | bytes) -> aioredis.Redis:
        """`for_key`, once the cluster client knows the slot owners: it learns them on its first command, and a
        store whose first command goes straight to a node would find none."""
        cluster = self.cluster
        if cluster is not None:
            await cluster.initialize()  # a no-op once done
        return self.for_key(key)

    def group(self, items: Iterable[T], key_of: Callable[[T], str | bytes]) -> list[tuple[aioredis.Redis, list[T]]]:
        """`items` by the node that serves `key_of(item)`, each group in the items' order."""
        if self.cluster is None:
            assert isinstance(self.client, aioredis.Redis)
            listed = list(items)
            return [(self.client, listed)] if listed else []
        groups: dict[Hashable, tuple[aioredis.Redis, list[T]]] = {}
        for item in items:
            node = self.for_key(key_of(item))
            groups.setdefault(id(node), (node, []))[1].append(item)
        return list(groups.values())

    def primaries(self) -> list[aioredis.Redis]:
        """A client per primary (SCAN, FLUSH and other whole-keyspace work goes to each)."""
        cluster = self.cluster
        if cluster is None:
            assert isinstance(self.client, aioredis.Redis)
            return [self.client]
        return [self._node_client(n) for n in cluster.get_primaries()]

    async def refresh(self) -> None:
        """Learns which node serves which slot again (after MOVED, a failover or a reshard)."""
        cluster = self.cluster
        if cluster is not None:
            await cluster.initialize()  # once: the client itself (a no-op afterwards)
            await cluster.nodes_manager.initialize()  # the slot owners, asked again

    async def aclose(self) -> None:
        for c in self._nodes.values():
            await c.aclose()
        self._nodes.clear()
        await self.client.aclose()

    def _node_client(self, node: ClusterNode) -> aioredis.Redis:
        client = self._nodes.get(node.name)
        if client is None:
            client = _hiredis_packing(aioredis.Redis(host=node.host, port=int(node.port), **_opts(self.options)))
            self._nodes[node.name] = client
        return client


def connect(settings: Settings, **options: Any) -> RedisNodes:
    """The Redis of the settings: a cluster client when CHIRP_REDIS_CLUSTER_NODES names nodes (credentials and
    TLS from CHIRP_REDIS_URL), else the one Redis of CHIRP_REDIS_URL."""
    if not settings.redis_cluster:
        return RedisNodes(_hiredis_packing(aioredis.Redis.from_url(settings.redis_url, **_opts(options))))
    creds = credentials(settings)
    startup = [ClusterNode(host, port) for host, port in settings.redis_nodes]
    cluster = RedisCluster(startup_nodes=startup, **creds, **_opts(options))
    return RedisNodes(cluster, {**creds, **options})


async def open_nodes(settings: Settings, **options: Any) -> RedisNodes:
    """`connect`, with a cluster's slot owners learnt before it returns: `for_key`, `group`, `spread` and
    `primaries` answer from them, and a process whose first command goes straight to a node would find none."""
    nodes = connect(settings, **options)
    try:
        await nodes.refresh()
    except (RedisError, OSError) as exc:  # the cluster is down: start anyway, learn the slots on the next refresh
        log.warning("Redis Cluster slots not learnt yet: %s", exc)
    return nodes


def connect_sync(settings: Settings, **options: Any) -> redis.Redis | redis.cluster.RedisCluster:
    """The same general client, synchronous, for command-line tools and the chaos rig: on a cluster its SCAN
    walks every primary and its multi-key DEL is split by slot, so a tool's key sweep is one code path."""
    if not settings.redis_cluster:
        return redis.Redis.from_url(settings.redis_url, **_opts(options))
    startup = [redis.cluster.ClusterNode(host, port) for host, port in settings.redis_nodes]  # type: ignore[no-untyped-call]
    return redis.cluster.RedisCluster(startup_nodes=startup, **credentials(settings), **_opts(options))


def primaries_sync(client: redis.Redis | redis.cluster.RedisCluster) -> list[redis.Redis]:
    """A plain client per primary of `connect_sync`'s client (per-node work: CONFIG, INFO); the client itself
    for one Redis."""
    if isinstance(client, redis.cluster.RedisCluster):
        return [client.get_redis_connection(n) for n in client.get_primaries()]  # type: ignore[no-untyped-call]
    return [client]


def node_client(settings: Settings, nodes: RedisNodes | None, attempt: int, **options: Any) -> aioredis.Redis:
    """A plain client of one node, for a connection that any node can serve and that must not move by itself
    (the push hub's pub/sub: classic PUBLISH is broadcast over the cluster bus to every node). Each `attempt`
    takes the next node, the configured ones then any other the cluster client has learnt of (a replica
    promoted after a failover), so that a connection whose node died goes to another. On one Redis, that Redis."""
    if not settings.redis_cluster:
        return aioredis.Redis.from_url(settings.redis_url, **_opts(options))
    known = list(settings.redis_nodes)
    cluster = nodes.cluster if nodes is not None else None
    if cluster is not None:
        known += [(n.host, int(n.port)) for n in cluster.get_nodes() if (n.host, int(n.port)) not in known]
    host, port = known[attempt % len(known)]
    return aioredis.Redis(host=host, port=port, **credentials(settings), **_opts(options))


def credentials(settings: Settings) -> dict[str, Any]:
    """Username, password and TLS of CHIRP_REDIS_URL, for clients made from host and port (a cluster's nodes)."""
    from urllib.parse import unquote, urlparse

    u = urlparse(settings.redis_url)
    creds: dict[str, Any] = {
        "username": unquote(u.username) if u.username else None,
        "password": unquote(u.password) if u.password else None,
    }
    if u.scheme == "rediss":
        creds["ssl"] = True
    return creds


def slot_of(key: str | bytes) -> int:
    return int(key_slot(key.encode() if isinstance(key, str) else key))


def same_slot(keys: Sequence[str]) -> bool:
    return len({slot_of(k) for k in keys}) <= 1
