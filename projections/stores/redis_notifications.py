"""Redis and the timeline stores in the notifications' service: who wrote a tweet (for replies and likes),
read markers the API accepted moments ago, and pushing fresh notifications to connected users.

Each takes one Redis or the nodes of a Redis Cluster (infra/redisnodes.py): lookups go on the general client's
pipeline (a cluster pipeline splits it by node), the marker script declares its key, and PUBLISH, which a
cluster pipeline refuses, goes on a pipeline of one node (classic pub/sub reaches every node's subscribers)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from infra.redisnodes import RedisNodes
from projections import push
from projections.notifications import Notification, NotificationFeed
from projections.stores.cassandra import CassandraProjections
from projections.stores.keys import RedisKeys, read_mark
from projections.timeline import encode_cursor

log = logging.getLogger("chirp.notifications")
PENDING_TTL_S = 600

# Sets the marker only forward. Ids are decimal text of up to 19 digits: longer is larger, then text order
# (Lua numbers are doubles and would round 64-bit ids).
_MAX_SET = """
local cur = redis.call('GET', KEYS[1])
local new = ARGV[1]
if (not cur) or #cur < #new or (#cur == #new and cur < new) then
  redis.call('SET', KEYS[1], new, 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class StoreTweetAuthors:
    """Authors of live tweets: the version's Redis cache (projected, or accepted by the API moments ago
    and not yet projected), then Cassandra."""

    def __init__(self, client: aioredis.Redis | RedisNodes, prefix: str, durable: CassandraProjections) -> None:
        self.r: Any = client.client if isinstance(client, RedisNodes) else client
        self.p = prefix
        self.keys = RedisKeys(prefix)
        self.durable = durable

    async def live_authors(self, tweet_ids: Sequence[int]) -> dict[int, int]:
        async with self.r.pipeline(transaction=False) as pipe:
            for t in tweet_ids:
                pipe.hmget(self.keys.tweet(t), ["a", "d"])
                pipe.get(self.keys.pending(t))
            raw = await pipe.execute()
        out: dict[int, int] = {}
        unknown: list[int] = []
        for i, t in enumerate(tweet_ids):
            (a, d), pending = raw[2 * i], raw[2 * i + 1]
            if a is not None:
                if not d:
                    out[t] = int(a)
            elif pending is not None:
                if pending != b"-":
                    out[t] = int(pending)
            else:
                unknown.append(t)
        if unknown:
            rows = await self.durable.tweets(unknown)
            out.update({t: v.author_id for t, v in rows.items() if not v.deleted})
        return out


class RedisPendingMarks:
    """Read markers accepted by the API and maybe not projected yet, kept for PENDING_TTL_S (base prefix)."""

    def __init__(self, client: aioredis.Redis | RedisNodes, prefix: str) -> None:
        self.r: Any = client.client if isinstance(client, RedisNodes) else client
        self.p = prefix
        self._script = self.r.register_script(_MAX_SET)

    async def get(self, user_id: int) -> int:
        value = await self.r.get(read_mark(self.p, user_id))
        return int(value) if value else 0

    async def set(self, user_id: int, up_to: int) -> None:
        await self._script(keys=[read_mark(self.p, user_id)], args=[str(up_to), PENDING_TTL_S])


class RedisPublisher:
    """Publishes each fresh notification, rendered as GET /notifications renders it, to recipients whose
    presence key exists (the push contract in projections/push.py). Best effort: a failure is logged."""

    def __init__(self, client: aioredis.Redis | RedisNodes, prefix: str, feed: NotificationFeed) -> None:
        self.nodes = client if isinstance(client, RedisNodes) else RedisNodes(client)
        self.r: Any = self.nodes.client
        self.p = prefix
        self.feed = feed

    async def publish(self, notifications: Sequence[Notification]) -> None:
        try:
            await self._publish(notifications)
        except Exception:  # the notifications are stored; a client that reconnects reads them
            log.exception("could not push %d notifications", len(notifications))

    async def _publish(self, notifications: Sequence[Notification]) -> None:
        by_user: dict[int, list[Notification]] = defaultdict(list)
        for n in notifications:
            by_user[n.user_id].append(n)
        users = sorted(by_user)
        async with self.r.pipeline(transaction=False) as pipe:
            for u in users:
                pipe.exists(push.presence_key(self.p, u))
            online = [u for u, present in zip(users, await pipe.execute(), strict=True) if present]
        for u in online:
            rows = sorted(by_user[u], key=lambda n: n.notification_id)
            rendered = await self.feed.render(rows, await self.feed.marker(u))
            ch = push.channel(self.p, u)
            async with (await self.nodes.node_of(ch)).pipeline(transaction=False) as pipe:
                for item in rendered:
                    data = orjson.loads(orjson.dumps(item, option=orjson.OPT_UTC_Z))  # plain JSON values
                    pipe.publish(ch, push.message("notification", encode_cursor(int(item["id"])), data))
                await pipe.execute()
