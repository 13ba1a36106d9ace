"""Redis: trending hashtags (parsed in projections/text.py), counted in time buckets of the tweet's own time
(projections/trends.py).

Keys, under a version's prefix `p` (so every timeline version, a rebuild too, has its own trends):

- `p tr:<window>:<bucket>` sorted set, tag -> tweets counted in that bucket;
- `p tr:<window>:<bucket>:t:<tag>` hash, tweet -> author: what is counted (the unit of idempotence);
- `p tr:<window>:<bucket>:a:<tag>` hash, author -> tweets: the accounts talking;
- `p tr:<window>:<bucket>:d` hash, tag -> the earliest tweet's id (19 digits) and the tag as it wrote it;
- `p trt:<tweet>` the tags a tweet counts under (or `x` once deleted), for edits and deletes;
- `p trgen:{tr}` the generation, bumped by every batch of writes (readers keep an answer while it stays).

Every key carries one hash tag, `{tr}` (`p tr:{tr}:1h:...`, spelled in the Lua scripts): on a Redis Cluster
they share a slot, so the scripts, which build their key names from their arguments, run on that slot's node
(`RedisNodes.for_key`), on one Redis the one client.

Every key expires at an absolute time derived from the tweet's time (the bucket's end plus the window and
some slack), so a replay sets the same expiries and leaves exactly the state the live pass left.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from infra.redisnodes import RedisNodes
from projections.model import Trend
from projections.ports import Authors
from projections.stores.keys import RedisKeys
from projections.text import hashtags
from projections.trends import WINDOWS, live_buckets
from schemas.events import Event, TweetDeleted, TweetEdited, TweetPosted
from schemas.ids import id_time

LUA = Path(__file__).parent / "lua"
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class RedisTrends:
    """The trends read model of one version (`prefix`): a `Projection` for the worker, a `TrendsReader`
    for the API."""

    def __init__(
        self, client: aioredis.Redis | RedisNodes, prefix: str, clock: Clock = _now, per_call: int = 64
    ) -> None:
        """`client`: one Redis, or the nodes of a Redis Cluster (infra/redisnodes.py). `per_call`: tweet events
        one script call counts (a read of the trends waits for one call at most)."""
        self.per_call = per_call
        self.nodes = client if isinstance(client, RedisNodes) else RedisNodes(client)
        self.r: Any = self.nodes.client
        self.p = prefix
        self.clock = clock
        self._write = self.r.register_script((LUA / "trends_write.lua").read_text())
        self._read = self.r.register_script((LUA / "trends_read.lua").read_text())
        self.generation_key = RedisKeys(prefix).trends_generation()  # in the trends' slot, as every trends key
        self._answers: dict[tuple[str, int], tuple[tuple[Any, ...], list[Trend]]] = {}

    def writes(self) -> RedisTrendsWrites:
        return RedisTrendsWrites(self)

    def key_patterns(self) -> list[str]:
        """The SCAN patterns of this version's trends keys (for tests and tools that look at Redis itself)."""
        return RedisKeys(self.p).trends()

    async def top(self, window: str, now: datetime, limit: int) -> list[Trend]:
        """The `limit` most tweeted tags of the window ending at `now`: most tweets first, then by tag.

        Unioning every bucket of a day is work; a burst of readers shares one computation: the answer is kept
        until the trends change (their generation, bumped by every write) or the window moves to a new bucket,
        so it is always exact and computed at most once per worker batch, however many read it."""
        w = WINDOWS[window]
        buckets = w.buckets(now)
        stamp = (tuple(buckets), await self.r.get(self.generation_key))
        kept = self._answers.get((window, limit))
        if kept is not None and kept[0] == stamp:
            return kept[1]
        raw = await self._read(args=[self.p, w.name, limit, *buckets], client=await self.node())
        out = [
            Trend(raw[i].decode(), raw[i + 1].decode(), int(raw[i + 2]), int(raw[i + 3])) for i in range(0, len(raw), 4)
        ]
        answer = sorted(out, key=lambda t: (-t.tweets, t.tag))
        self._answers[(window, limit)] = (stamp, answer)
        return answer

    async def node(self) -> aioredis.Redis:
        """The client of the node serving the trends' slot (the one client, on one Redis): the scripts declare
        no keys, so they must be sent there."""
        return await self.nodes.node_of(self.generation_key)


def script_args(op: str, tweet_id: int, author_id: int, tags: dict[str, str], now: datetime) -> list[Any] | None:
    """One tweet's part of trends_write.lua's ARGV, or None when every bucket the tweet counts in has expired."""
    live = live_buckets(id_time(tweet_id), now)
    if not live:
        return None
    expire = max(w.expires(b) for w, b in live)
    args: list[Any] = [op, tweet_id, author_id, expire, len(live), len(tags)]
    for w, b in live:
        args += [w.name, b, w.expires(b)]
    for tag, display in tags.items():
        args += [tag, display]
    return args


class RedisTrendsWrites:
    """One batch's changes, `per_call` tweet events per script call (a call's start costs Redis more than a
    tweet's counts), the calls on one pipeline (a single round trip) to the node of the trends' slot. The node
    is asked when the batch is flushed, so a batch begun before a failover goes to the new owner (once the
    caller's retry has refreshed the slot owners)."""

    def __init__(self, trends: RedisTrends) -> None:
        self.t = trends
        self.calls: list[list[Any]] = []
        self.now = trends.clock()

    def apply(self, event: Event, authors: Authors) -> None:
        match event:
            case TweetPosted():
                tags = hashtags(event.content)
                args = script_args("post", event.tweet_id, event.author_id, tags, self.now) if tags else None
            case TweetEdited():
                args = script_args("edit", event.tweet_id, event.author_id, hashtags(event.content), self.now)
            case TweetDeleted():
                args = script_args("delete", event.tweet_id, event.author_id, {}, self.now)
            case _:
                return
        if args is not None:
            self.calls.append(args)

    async def flush(self) -> None:
        if not self.calls:
            return
        script, n = self.t._write, self.t.per_call
        async with (await self.t.node()).pipeline(transaction=False) as pipe:
            pipe.scripts.add(script)  # type: ignore[arg-type]  # loaded first if Redis lacks it
            for i in range(0, len(self.calls), n):
                pipe.evalsha(script.sha, 0, self.t.p, *(x for args in self.calls[i : i + n] for x in args))
            pipe.incr(self.t.generation_key)
            await pipe.execute()
        self.calls = []
