"""Leases on id-generator node numbers (schemas/ids.py), so that no two processes make ids as one node,
whatever their pids or hostnames. Per node, two keys with one hash tag (one slot on a Redis Cluster):
`node:{n}` holds the holder's lease id and lapses after the lease's time to live; `nodehw:{n}` keeps, with no
expiry, the latest wall-clock ms any holder of the node may make ids up to: the next holder starts above it.

The scripts declare both keys, so on a Redis Cluster the cluster client sends each to the node of their slot
(and follows it there after a failover)."""

from __future__ import annotations

import random
from typing import Any

import redis.asyncio as aioredis

from infra.redisnodes import RedisNodes
from projections.stores.keys import node_lease
from schemas.ids import LEASED_NODES

# KEYS: lease, high water. ARGV: holder, ttl ms, the holder's clock (ms). Returns {previous high water, until}
# (the new holder makes ids above the one and up to the other), or -1 if the node is held.
ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
local old = tonumber(redis.call('GET', KEYS[2]) or '0')
local upto = math.max(old, tonumber(ARGV[3])) + tonumber(ARGV[2])
redis.call('SET', KEYS[2], string.format('%d', upto))
return {string.format('%d', old), string.format('%d', upto)}
"""
# The same keys. ARGV: holder, ttl ms, until (ms). Returns 1 if renewed, 0 if the lease is not the holder's.
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local old = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[3]) > old then redis.call('SET', KEYS[2], ARGV[3]) end
return 1
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisNodeLeases:
    def __init__(self, client: aioredis.Redis | RedisNodes, base: str, nodes: range = LEASED_NODES) -> None:
        """`client`: one Redis, or the nodes of a Redis Cluster (infra/redisnodes.py)."""
        self.r: Any = client.client if isinstance(client, RedisNodes) else client
        self.base = base
        self.nodes = nodes
        self._acquire = self.r.register_script(ACQUIRE)
        self._renew = self.r.register_script(RENEW)
        self._release = self.r.register_script(RELEASE)

    async def acquire(self, holder: str, ttl_ms: int, now_ms: int) -> tuple[int, int, int] | None:
        """A free node, tried in random order: (node, the floor its ids start above, the ms they may reach);
        None if all are held."""
        for node in random.sample(self.nodes, len(self.nodes)):
            got = await self._acquire(keys=node_lease(self.base, node), args=[holder, ttl_ms, now_ms])
            if got != -1:
                return node, int(got[0]), int(got[1])
        return None

    async def renew(self, node: int, holder: str, ttl_ms: int, until_ms: int) -> bool:
        return bool(await self._renew(keys=node_lease(self.base, node), args=[holder, ttl_ms, until_ms]))

    async def release(self, node: int, holder: str) -> None:
        await self._release(keys=node_lease(self.base, node), args=[holder])

    async def holder(self, node: int) -> Any:
        """Who holds the node (for tests and tools)."""
        return await self.r.get(node_lease(self.base, node)[0])
