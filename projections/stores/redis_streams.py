"""Leases on a user's open streams, shared by every API process: at most `cap` streams per user however many
processes serve them. A sorted set per user (keys.stream_leases): member a lease id, score when it lapses
(epoch seconds). A process renews its leases with every heartbeat and drops them when the stream ends; one
that dies leaves leases that lapse within a few heartbeats.

The claim script declares its one key, so on a Redis Cluster the cluster client sends it to the key's node;
the renewals go on the caller's pipeline (a cluster pipeline splits it by node)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from infra.redisnodes import RedisNodes
from projections.stores.keys import stream_leases

CLAIM = """
local now, lapse, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], lapse, ARGV[4])
redis.call('EXPIREAT', KEYS[1], math.ceil(lapse))
return 1
"""


class RedisStreamLeases:
    def __init__(self, client: aioredis.Redis | RedisNodes, base: str, ttl_s: float) -> None:
        """`client`: one Redis, or the nodes of a Redis Cluster (infra/redisnodes.py)."""
        self.r: Any = client.client if isinstance(client, RedisNodes) else client
        self.base = base
        self.ttl_s = ttl_s
        self._claim = self.r.register_script(CLAIM)

    async def claim(self, user_id: int, lease: str, cap: int) -> bool:
        """Takes one of the user's `cap` stream leases; False when all are held (unlapsed)."""
        now = time.time()
        key = stream_leases(self.base, user_id)
        return bool(await self._claim(keys=[key], args=[now, now + self.ttl_s, cap, lease]))

    def renew(self, pipe: Any, leases: Iterable[tuple[int, str]]) -> None:
        """Queues the renewal of (user, lease) pairs on a pipeline (the heartbeat's)."""
        lapse = time.time() + self.ttl_s
        for user_id, lease in leases:
            key = stream_leases(self.base, user_id)
            pipe.zadd(key, {lease: lapse}, xx=True)
            pipe.expireat(key, int(lapse) + 1)

    async def release(self, user_id: int, lease: str) -> None:
        await self.r.zrem(stream_leases(self.base, user_id), lease)
