"""Redis: home timelines, the follow graph used for fan-out, per-author recent tweets, and the
hydration cache. Every write is idempotent (set adds, sorted-set adds by a unique member, hash
sets), so redelivered and replayed events change nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, FieldT

from infra.redisnodes import RedisNodes
from projections.model import BatchStats, TimelinePage, TweetView, UserView
from projections.stores.keys import RedisKeys, channel, online_index, read_pressure, reads_active
from projections.stores.redis_record import RedisRecordWrites
from projections.stores.redis_views import ViewCache, ViewTracker
from projections.timeline import HORIZON_MARK, Entry, decode_entry, encode_entry, flipped_id, id_bytes
from projections.wire import delete_message, edit_head, media_json, update_head
from schemas.events import Media

log = logging.getLogger("chirp.redis")
LUA = Path(__file__).parent / "lua"
SCRIPTS = ("fanout", "unpush", "follow", "unfollow", "follow_in", "unfollow_in", "celebpush", "editpush")
SPREAD = ("deliver", "undeliver", "record")  # scripts touching keys of many slots of one node: `allow-cross-slot-keys`
REBUILDS = ("rebuild", "rebuild_part", "rebuild_in", "rebuild_gather")  # with rebuildlib.lua too
BUILD_TTL_MS = 60_000  # a timeline rebuilt in parts expires this long after a builder that died
READS = ("read", "hydrate", "home")  # with readlib.lua too
CROSS_SLOT = "#!lua flags=allow-cross-slot-keys\n"
ELSEWHERE = b"\0"  # readlib.lua: a tweet or author another Redis Cluster node serves
ELSEWHERE_USER = UserView(0, "", "")  # a view's author while it is fetched from another node
DELAY_SAMPLES = 100_000
SCAN_COUNT = 5_000
UNLINK_CHUNK = 1_000
# How long a follower's side remembers an unfollow (unfollow_in.lua), so that deliver.lua drops the followee's
# tweets the fan-out planned before it: the gap is one batch's plan to its deliveries, far less than this.
UNFOLLOWED_S = 600


def _micros(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


def _from_micros(value: bytes | None) -> datetime | None:
    return None if not value else datetime.fromtimestamp(int(value) / 1_000_000, tz=UTC)


class RedisTimelines:
    def __init__(
        self,
        client: aioredis.Redis | RedisNodes,
        prefix: str,
        cap: int,
        threshold: int,
        ttl_s: int,
        push: bool = True,
        publish: str = "",
        pacing: Pacing | None = None,
        rebuild_chunk: int = 50,
        replicas: Replicas | None = None,
        rebuild_entries: int | None = None,
        view_cache: int = 0,
        view_ping_s: float = 1.0,
    ) -> None:
        """`push=False` records tweets without fanning them out: for a bulk rebuild, after which home
        timelines are materialized from the authors' lists on their first read. `publish`: the base prefix
        under which the fan-out publishes push messages to online users (projections/push.py); "" (the
        default) publishes nothing, as every pass but the live version's must. `rebuild_chunk`: followees one
        rebuild script call merges (a timeline of someone following more is rebuilt in parts). `rebuild_entries`: the
        newest entries a timeline materialized from the authors' lists gets (the cap by default); reads older than
        them go to Cassandra until deliveries fill the timeline to the cap. `client`: one Redis,
        or the nodes of a Redis Cluster (infra/redisnodes.py): the writes go to each key's node. `replicas`: how many
        replicas must hold the worker's writes before a flush returns (none by default). `view_cache`: how
        many tweet views a reading process keeps, exact by Redis's invalidations (redis_views.py; 0: none, the
        default); `start_views` starts tracking them."""
        self.nodes = client if isinstance(client, RedisNodes) else RedisNodes(client)
        self.r: Any = self.nodes.client
        self.pacing = pacing or Pacing()
        self.push = push
        self.publish = publish
        self.p = prefix
        self.keys = RedisKeys(prefix)
        self.cap = cap
        self.threshold = threshold
        self.ttl_s = ttl_s
        self.rebuild_chunk = rebuild_chunk
        self.built = min(cap, rebuild_entries or cap)
        self.replicas = replicas or Replicas()
        self.unfollowed_s = UNFOLLOWED_S
        lib = (LUA / "lib.lua").read_text()
        self._scripts = {n: self.r.register_script(lib + (LUA / f"{n}.lua").read_text()) for n in SCRIPTS}
        spread = CROSS_SLOT + lib
        self._scripts |= {n: self.r.register_script(spread + (LUA / f"{n}.lua").read_text()) for n in SPREAD}
        # Rebuilds and reads touch keys of several slots: on a Redis Cluster those of the node they run on.
        rebuilds = spread + (LUA / "rebuildlib.lua").read_text()
        self._scripts |= {n: self.r.register_script(rebuilds + (LUA / f"{n}.lua").read_text()) for n in REBUILDS}
        reads = spread + (LUA / "readlib.lua").read_text()
        self._scripts |= {n: self.r.register_script(reads + (LUA / f"{n}.lua").read_text()) for n in READS}
        self._loaded: set[int] = set()  # id() of the nodes the write pipelines loaded the scripts on
        self.views = ViewCache(prefix, view_cache) if view_cache > 0 else None
        self._tracker = None
        if self.views is not None:
            self._tracker = ViewTracker(self.nodes, self.views, view_ping_s, f"chirp-views:{prefix}")

    async def ensure_scripts(self, node: aioredis.Redis) -> None:
        """Every script loaded on `node`, once per process (`forget_scripts` after an error): the write
        pipelines then send EVALSHA alone, where redis-py's pipeline asks SCRIPT EXISTS on every execute, a
        round trip per write round. A node that lost them (a restart, a failover) answers NOSCRIPT, a
        transient error: the batch is retried, and the scripts loaded again first."""
        if id(node) in self._loaded:
            return
        for script in self._scripts.values():
            script.sha = await node.script_load(script.script)
        self._loaded.add(id(node))

    def forget_scripts(self, node: aioredis.Redis) -> None:
        self._loaded.discard(id(node))

    async def _on(self, node: aioredis.Redis, name: str, *args: Any) -> Any:
        """Script `name` by EVALSHA on `node` (the one that serves the keys it is about; on one Redis, the one
        client). Not redis-py's Script call: that checks its client against a typing Protocol on every call, a
        few percent of a timeline page's CPU time, and sends a keyless script to a random cluster node."""
        script = self._scripts[name]
        try:
            return await node.evalsha(script.sha, 0, self.p, *args)
        except NoScriptError:  # a restarted or different Redis: load it, once
            script.sha = await node.script_load(script.script)
            return await node.evalsha(script.sha, 0, self.p, *args)

    def _home(self, user_id: int) -> aioredis.Redis:
        """The node that serves a user's home timeline (and every other key of theirs)."""
        return self.nodes.for_key(self.keys.timeline(user_id))

    # Writes (the stream worker) -------------------------------------------------------------------

    def writes(self) -> RedisTimelineWrites | RedisRecordWrites:
        """A batch's writer: the live pass's, or with fan-out off (a bulk rebuild) the record-only one."""
        return RedisTimelineWrites(self) if self.push else RedisRecordWrites(self)

    async def record(self, calls: dict[Any, list[list[EncodableT]]]) -> dict[Any, list[Any]]:
        """record.lua calls (each its ops, redis_record.py), every node's in order, the nodes at once, in rounds
        of `Pacing.round` ops' worth (a read waits for one call at most); returns each node's replies."""
        per_round = max(self.pacing.round_now() // max(self.pacing.chunk_now(), 1), 1)
        script = self._scripts["record"]

        async def on(node: aioredis.Redis, ops: list[list[EncodableT]]) -> list[Any]:
            replies: list[Any] = []
            for i in range(0, len(ops), per_round):
                if self.pacing.pressure is not None and await self.pacing.pressure.active() and self.pacing.yield_s:
                    await asyncio.sleep(self.pacing.yield_s)  # reads are slow: let them through first
                await self.ensure_scripts(node)
                pipe = node.pipeline(transaction=False)
                for args in ops[i : i + per_round]:
                    pipe.evalsha(script.sha, 0, self.p, self.cap, self.threshold, *args)
                if self.replicas.count:
                    pipe.execute_command("WAIT", self.replicas.count, self.replicas.timeout_ms)
                try:
                    done = await pipe.execute()
                except BaseException:
                    self.forget_scripts(node)  # a NOSCRIPT among the errors: load them again on the retry
                    raise
                if self.replicas.count:
                    if done[-1] < self.replicas.count:
                        self.replicas.check([node])
                    done = done[:-1]
                replies += done
            return replies

        nodes = list(calls)
        done = await asyncio.gather(*(on(node, calls[node]) for node in nodes))
        return dict(zip(nodes, done, strict=True))

    async def promote(self, authors: Sequence[int]) -> None:
        """Accounts that just became celebrities: each goes into the `fc:` set of every follower (their tweets
        are merged into those followers' pages from now on)."""
        for author in sorted(set(authors)):
            followers = await self.r.smembers(self.keys.followers(author))
            async with self.r.pipeline(transaction=False) as pipe:
                for f in followers:
                    pipe.sadd(self.keys.celebrities_followed(_text(f)), author)
                await pipe.execute()

    async def undeliver(self, entry: bytes, users: Sequence[bytes]) -> None:
        """A deleted tweet taken out of these users' timelines (a rebuild's pass: nobody is told), node by node,
        a chunk at a time."""
        chunk = self.pacing.chunk_now()
        for k in range(0, len(users), chunk):
            for node, group in self.nodes.group(users[k : k + chunk], lambda u: self.keys.timeline(_text(u))):
                await self._on(node, "undeliver", entry, "", "", *group)

    def with_push(self) -> RedisTimelines:
        """The same store with fan-out on (after a bulk rebuild has recorded the log)."""
        return RedisTimelines(
            self.nodes,
            self.p,
            self.cap,
            self.threshold,
            self.ttl_s,
            True,
            self.publish,
            self.pacing,
            self.rebuild_chunk,
            self.replicas,
            self.built,
        )

    async def rebuild_many(self, user_ids: Sequence[int]) -> int:
        """Materializes several home timelines in one round trip per node; returns how many were built."""
        script = self._scripts["rebuild"]
        states: dict[int, int] = {}
        for node, users in self.nodes.group(user_ids, self.keys.timeline):
            async with node.pipeline(transaction=False) as pipe:
                loads: set[Any] = pipe.scripts  # loaded first if Redis lacks it
                loads.add(script)
                for u in users:
                    pipe.evalsha(script.sha, 0, self.p, *self._rebuild_args(u))
                states.update(zip(users, (int(x) for x in await pipe.execute()), strict=True))
        built = 0
        for u in user_ids:
            built += await self._rebuild_parts(u) if states[u] == 2 else states[u]
        return built

    async def authors(self, tweet_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        """(author, reply_to) of the tweets the cache knows, in one round trip."""
        async with self.r.pipeline(transaction=False) as pipe:
            for t in tweet_ids:
                pipe.hmget(self.keys.tweet(t), ["a", "r"])
            rows = await pipe.execute()
        return {t: (int(a), int(r) if r else None) for t, (a, r) in zip(tweet_ids, rows, strict=True) if a}

    async def handle_owners(self, handle_keys: Sequence[str]) -> dict[str, int]:
        """Who holds each handle here (`hk:{handle}`, written with the user), in one round trip."""
        if not handle_keys:
            return {}
        async with self.r.pipeline(transaction=False) as pipe:  # handles' keys are on several cluster nodes
            for k in handle_keys:
                pipe.get(self.keys.handle(k))
            owners = await pipe.execute()
        return {k: int(o) for k, o in zip(handle_keys, owners, strict=True) if o is not None}

    async def handles_from(self, prefix: str, limit: int) -> list[int]:
        """The users whose handle starts with `prefix` (case-insensitive), in handle order, at most `limit`."""
        low = prefix.lower()
        found = await self.r.zrangebylex(self.keys.handles(), f"[{low}", f"[{low}\xff", start=0, num=limit)
        return [int(_text(m).rpartition(" ")[2]) for m in found]

    async def reply_to_of(self, tweet_id: int) -> tuple[int | None, int | None]:
        """(author, reply_to) of a cached tweet, for rules and deletes."""
        a, r = await self.r.hmget(self.keys.tweet(tweet_id), ["a", "r"])
        return (int(a) if a else None), (int(r) if r else None)

    # Reads (the API) -------------------------------------------------------------------------------

    async def read(self, user_id: int, before: int | None, limit: int) -> TimelinePage | None:
        """Every entry of each source of a page (the user's timeline, then the celebrities they follow), at most
        limit + 1 per source, merged: for tests and tools (the API reads `home_page`)."""
        bound = id_bytes(before) if before else b""
        raw = await self._on(self._home(user_id), "read", user_id, bound, limit, self.ttl_s)
        if raw[0] == 0:
            return None
        horizon, entries = await self._sources(raw, before, limit, None)
        unique = sorted({e.tweet_id: e for e in map(decode_entry, entries)}.values(), reverse=True)
        return TimelinePage([(e.tweet_id, e.author_id) for e in unique], horizon)

    async def _sources(
        self, raw: Sequence[Any], before: int | None, limit: int, after: int | None
    ) -> tuple[int, list[bytes]]:
        """The highest horizon and every entry of the sources in a read.lua reply, with those of the
        celebrities it says other nodes serve (a Redis Cluster) read there: one pipelined request per node."""
        n = int(raw[1])
        horizons, entries = [], []
        expect_horizon = True
        for item in raw[2 + n :]:
            if expect_horizon:
                horizons.append(item)
                expect_horizon = False
            elif item == b"":
                expect_horizon = True
            else:
                entries.append(item)
        if n:
            lo, hi = flipped_id(before), flipped_id(after)
            low = b"(" + lo + HORIZON_MARK if lo else b"-"
            high = b"(" + hi if hi else b"(" + HORIZON_MARK
            lists = [self.keys.user_tweets(int(c)) for c in raw[2 : 2 + n]]
            for node, keys in self.nodes.group(lists, lambda k: k):
                async with node.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.zrange(key, -1, -1)
                        pipe.zrangebylex(key, low, high, 0, limit + 1)
                    replies = await pipe.execute()
                for last, page in zip(replies[::2], replies[1::2], strict=True):
                    if last and last[0].startswith(HORIZON_MARK):
                        horizons.append(last[0][len(HORIZON_MARK) :])
                    entries.extend(page)
        return max((int.from_bytes(h, "big") for h in horizons), default=0), entries

    async def rebuild(self, user_id: int) -> bool:
        """Materializes a home timeline from the authors' lists; False if it was there already (or another
        process is rebuilding it)."""
        state = int(await self._on(self._home(user_id), "rebuild", *self._rebuild_args(user_id)))
        return await self._rebuild_parts(user_id) if state == 2 else bool(state)

    def _rebuild_args(self, user_id: int) -> tuple[int, ...]:
        # On several nodes the followees' lists are mostly elsewhere: every rebuild goes in parts (chunk 0).
        chunk = 0 if self.nodes.spread else self.rebuild_chunk
        return user_id, self.built, self.ttl_s, chunk, BUILD_TTL_MS

    async def _rebuild_parts(self, user_id: int) -> bool:
        """The rest of a rebuild rebuild.lua began (the user follows more than a chunk, or the followees' lists are
        on other nodes): the followees merged a chunk per script call, so reads and deliveries wait for one chunk at
        most. Followees on the reader's node are merged there in one call; those on another node are gathered
        on it (rebuild_gather.lua) and the result merged on the reader's (rebuild_in.lua)."""
        followees = sorted(int(x) for x in await self.r.smembers(self.keys.following(user_id)))
        home, chunk = self._home(user_id), self.rebuild_chunk
        parts = [
            (node, group[i : i + chunk])
            for node, group in self.nodes.group(followees, self.keys.user_tweets)
            for i in range(0, len(group), chunk)
        ] or [(home, [])]
        for n, (node, part) in enumerate(parts):
            fixed = (user_id, self.built, self.ttl_s, int(n == len(parts) - 1))
            if node is home:
                done = await self._on(home, "rebuild_part", *fixed, *part)
            else:
                gathered = await self._on(node, "rebuild_gather", self.built, *part)
                done = await self._on(home, "rebuild_in", *fixed, len(part), *part, *map(id_bytes, part), *gathered)
            if not done:
                return False  # abandoned (its mark expired): the next read begins again
        return True

    async def timeline_entries(self, user_id: int) -> list[Entry]:
        """Every entry a materialized home timeline holds (its list and its inbox), newest first: for tests
        and tools that look at Redis itself."""
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.lrange(self.keys.timeline(user_id), 0, -1)
            pipe.zrange(self.keys.inbox(user_id), 0, -1)
            listed, late = await pipe.execute()
        members = {m for m in (*listed, *late) if not m.startswith(HORIZON_MARK)}
        return sorted((decode_entry(m) for m in members), reverse=True)

    def timeline_key(self, user_id: int | str) -> str:
        """The key of a home timeline, for tests and tools that look at Redis itself."""
        return self.keys.timeline(user_id)

    async def materialized_users(self) -> list[int]:
        """Users whose home timeline is materialized (read within the activity window), in id order."""
        pattern, skip = self.keys.timelines(), len(self.keys.timeline("")) - 1  # up to the tag's brace
        users = []
        for node in self.nodes.primaries():  # each primary scans the keys it serves
            users += [int(k[skip:-1]) async for k in node.scan_iter(match=pattern, count=SCAN_COUNT)]
        return sorted(users)

    async def rebuild_from_graph(self, user_id: int, followees: Sequence[int]) -> int:
        """One user's home timeline rebuilt in place: the follow list replaced by `followees` (from the durable
        follow graph), then the timeline materialized from the authors' lists. Returns its entries."""
        k = self.keys
        async with self._home(user_id).pipeline(transaction=True) as pipe:  # the user's keys share a slot
            pipe.delete(k.following(user_id), k.timeline(user_id), k.inbox(user_id))
            if followees:
                pipe.sadd(k.following(user_id), *followees)
            await pipe.execute()
        async with self.r.pipeline(transaction=False) as pipe:  # the followees' sides, each on its node
            for f in followees:
                pipe.sadd(k.followers(f), user_id)
            await pipe.execute()
        await self.rebuild(user_id)
        return int(await self.r.llen(k.timeline(user_id))) - 1  # less the horizon sentinel

    async def forget_timeline(self, user_id: int) -> None:
        """Drops a materialized home timeline (as the activity window does): the next read rebuilds it."""
        await self.r.unlink(self.keys.timeline(user_id), self.keys.inbox(user_id))

    async def hydrate(self, pairs: Sequence[tuple[int, int]]) -> dict[int, TweetView]:
        """Tweets (with counts and authors) cached in Redis, in one round trip (per node, at once, on a Redis
        Cluster; then the authors other nodes serve); misses are left out. With a view cache, only the views it
        has not got are read, and kept."""
        cache = self.views
        if cache is None or not cache.live:
            return await self._complete(await self._tweets(pairs))
        found = cache.get(t for t, _ in pairs)
        if len(found) == len(pairs):
            return found
        token = cache.begin()
        try:
            fresh = await self._complete(await self._tweets([pair for pair in pairs if pair[0] not in found]))
            cache.put(token, fresh.values())
        finally:
            cache.end(token)
        found.update(fresh)
        return found

    def start_views(self) -> None:
        """Starts tracking the views this store keeps (a no-op without a view cache)."""
        if self._tracker is not None:
            self._tracker.start()

    async def stop_views(self) -> None:
        if self._tracker is not None:
            await self._tracker.stop()

    async def sync_views(self) -> None:
        """After the worker's progress shows a write applied: returns once this process's views reflect it."""
        if self._tracker is not None:
            await self._tracker.sync()

    async def _tweets(self, pairs: Sequence[tuple[int, int]]) -> dict[int, TweetView]:
        """hydrate.lua on each node that serves some of the tweets, at once; authors served elsewhere stay
        ELSEWHERE_USER (`_complete`)."""
        if not pairs:
            return {}
        groups = self.nodes.group(pairs, lambda pair: self.keys.tweet(pair[0]))
        if len(groups) == 1:  # one Redis, or every tweet on one node
            return _views(pairs, await self._on(groups[0][0], "hydrate", *_flat(pairs)))
        raws = await asyncio.gather(*(self._on(node, "hydrate", *_flat(part)) for node, part in groups))
        views: dict[int, TweetView] = {}
        for (_, part), raw in zip(groups, raws, strict=True):
            views.update(_views(part, raw))
        return views

    async def _complete(self, views: dict[int, TweetView]) -> dict[int, TweetView]:
        """Views whose authors another node serves (a Redis Cluster), given their authors: one request per node."""
        missing = {v.author_id for v in views.values() if v.author is ELSEWHERE_USER}
        if not missing:
            return views
        found = await self.users(sorted(missing))
        for t, v in views.items():
            if v.author is ELSEWHERE_USER:
                views[t] = replace(v, author=found.get(v.author_id))
        return views

    async def home_page(
        self, user_id: int, before: int | None, limit: int, after: int | None = None
    ) -> tuple[TimelinePage, dict[int, TweetView]] | None:
        """`read` and `hydrate` in one round trip: the page's entries above the horizon (at most `limit`,
        merged and deduplicated in Redis, newer than `after` if given) and the views Redis has of them.
        None if not materialized."""
        bounds = (id_bytes(before) if before else b"", limit, self.ttl_s, id_bytes(after) if after else b"")
        cached = self.views is not None and self.views.live
        raw = await self._on(self._home(user_id), "home", user_id, *bounds, b"1" if cached else b"")
        if raw[0] == 0:
            return None
        if raw[0] == 2:  # a Redis Cluster: some celebrities' lists are on other nodes
            return await self._merged_page(raw, before, limit, after)
        n = raw[2]
        pairs = [(e.tweet_id, e.author_id) for e in map(decode_entry, raw[3 : 3 + n])]
        if cached:  # entries only: the views come from the cache, and Redis for what it has not got
            return TimelinePage(pairs, int.from_bytes(raw[1], "big")), await self.hydrate(pairs)
        views = _views(pairs, raw[3 + n :])
        if len(views) < n and any(raw[3 + n + i * 11] == ELSEWHERE for i in range(n)):
            views.update(await self._tweets([pair for pair in pairs if pair[0] not in views]))
        return TimelinePage(pairs, int.from_bytes(raw[1], "big")), await self._complete(views)

    async def _merged_page(
        self, raw: Sequence[Any], before: int | None, limit: int, after: int | None
    ) -> tuple[TimelinePage, dict[int, TweetView]]:
        """What home.lua does, for a page whose sources are on several nodes: the newest `limit` distinct
        entries above the highest horizon, then hydrated node by node."""
        horizon, entries = await self._sources(raw, before, limit, after)
        unique = sorted({e.tweet_id: e for e in map(decode_entry, entries)}.values(), reverse=True)
        pairs = [(e.tweet_id, e.author_id) for e in unique if e.tweet_id > horizon][:limit]
        return TimelinePage(pairs, horizon), await self.hydrate(pairs)

    async def users(self, ids: Sequence[int]) -> dict[int, UserView]:
        """Handles and names, one pipeline per node that serves some, at once (a plain pipeline per node costs
        a fraction of a cluster pipeline's routing)."""
        groups = self.nodes.group(ids, self.keys.user)
        rows = await asyncio.gather(*(self._hmget(node, [self.keys.user(u) for u in part]) for node, part in groups))
        return {
            u: UserView(u, h.decode(), n.decode())
            for (_, part), found in zip(groups, rows, strict=True)
            for u, (h, n) in zip(part, found, strict=True)
            if h is not None
        }

    @staticmethod
    async def _hmget(node: aioredis.Redis, keys: list[str]) -> list[Any]:
        async with node.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, ["h", "n"])
            return list(await pipe.execute())

    async def counts(self, user_id: int) -> tuple[int, int]:
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.scard(self.keys.followers(user_id))
            pipe.scard(self.keys.following(user_id))
            followers, following = await pipe.execute()
        return int(followers), int(following)

    async def tweet_state(self, tweet_id: int) -> tuple[int | None, bool]:
        """(author, deleted) as far as Redis knows; author None when Redis has not seen the tweet. A delete
        the API accepted counts at once, before the worker projects it (read-your-writes)."""
        async with self.r.pipeline(transaction=False) as p:
            p.hmget(self.keys.tweet(tweet_id), ["a", "d"])
            p.get(self.keys.pending(tweet_id))
            (a, d), pending = await p.execute()
        if pending == b"-":
            return (int(a) if a is not None else None), True
        if a is None:
            return (None, False) if pending is None else (int(pending), False)
        return int(a), bool(d)

    async def mark_pending(self, tweet_id: int, author_id: int | None) -> None:
        """The API saw Kafka accept a post (or a delete: None) the worker may not have projected yet."""
        await self.r.set(self.keys.pending(tweet_id), "-" if author_id is None else author_id, ex=600)

    # Progress of the stream worker, for `idle` checks and lag ----------------------------------------

    async def progress(self) -> dict[str, int]:
        return await RedisProgress(self.r, self.p).progress()

    async def record_progress(self, stats: BatchStats) -> None:
        await RedisProgress(self.r, self.p).record_progress(stats)


class CatchUpTimeout(TimeoutError):
    """A version's progress did not reach the end offsets in time: `behind` is `topic:partition` -> (end offset,
    progress) of the partitions still behind."""

    def __init__(self, behind: dict[str, tuple[int, int]], waited_s: float) -> None:
        self.behind = behind
        self.waited_s = waited_s
        self.events = sum(end - done for end, done in behind.values())
        super().__init__(f"still {self.events} events behind after {waited_s:.0f}s: {behind}")


def _result(results: list[Any], at: tuple[int, Any, int]) -> Any:
    """What the command queued at `at` (round, node, position) answered."""
    r, node, i = at
    return results[r][node][i]


def _celebrity_now(reply: Any) -> bool:
    """Whether a follow's first step made the followee a celebrity."""
    return _text(reply[0]) == "celeb" and int(reply[1]) == 1


def _text(k: bytes | str) -> str:
    return k.decode() if isinstance(k, bytes) else k


class RedisProgress:
    """A version's bookkeeping under its own prefix (even when its data is shared with another version)."""

    def __init__(
        self, client: aioredis.Redis, prefix: str, settle: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """`settle`: awaited after each read of the progress, before it is returned (a reader's view cache catching
        up with the invalidations Redis sent before it: `RedisTimelines.sync_views`)."""
        self.r = client
        self.p = prefix
        self.keys = RedisKeys(prefix)
        self.settle = settle

    async def progress(self) -> dict[str, int]:
        """`topic:partition` -> the next offset this version has applied."""
        raw = await self.r.hgetall(self.keys.progress())
        if self.settle is not None:
            await self.settle()
        return {_text(k): int(v) for k, v in raw.items()}

    async def stats(self) -> dict[str, int]:
        """Running totals: `events` applied and home-timeline `deliveries` made."""
        raw = await self.r.hgetall(self.keys.stats())
        return {_text(k): int(v) for k, v in raw.items()}

    async def delays(self) -> list[float]:
        """The recent post -> visible delays (ms), newest first."""
        return [float(x) for x in await self.r.lrange(self.keys.delays(), 0, -1)]

    async def clear_delays(self) -> None:
        await self.r.delete(self.keys.delays())

    async def wait_until(self, ends: dict[str, int], timeout_s: float, **options: Any) -> float:
        """Polls until the recorded progress reaches `ends` (`topic:partition` -> end offset): `wait_caught_up`."""
        return await wait_caught_up(self, ends, timeout_s, **options)

    async def record_progress(self, stats: BatchStats) -> None:
        """After each batch: offsets reached (idle checks, lag), running totals, recent delays (benchmarks)."""
        async with self.r.pipeline(transaction=False) as pipe:
            if stats.progress:
                pipe.hset(self.keys.progress(), mapping=dict(stats.progress.items()))
            pipe.hincrby(self.keys.stats(), "events", stats.events)
            pipe.hincrby(self.keys.stats(), "deliveries", stats.deliveries)
            if stats.delays_ms:
                pipe.lpush(self.keys.delays(), *(f"{d:.3f}" for d in stats.delays_ms))
                pipe.ltrim(self.keys.delays(), 0, DELAY_SAMPLES - 1)
            await pipe.execute()


class Progress(Protocol):
    """What `wait_caught_up` polls: a version's progress (RedisProgress), or a view combining it with more."""

    async def progress(self) -> dict[str, int]: ...


async def wait_caught_up(
    progress: Progress,
    ends: dict[str, int],
    timeout_s: float,
    *,
    poll_s: float = 0.02,
    check: Callable[[], None] | None = None,
    reached: Callable[[int, int], None] | None = None,
) -> float:
    """The one "wait until the worker caught up" loop: polls `progress` every `poll_s` until it reaches `ends`
    (`topic:partition` -> end offset, as infra.kafka.end_offsets gives them) on every partition, and returns
    the monotonic time it saw it did; raises CatchUpTimeout after `timeout_s`. `check` is called on every poll
    while behind, to raise when waiting is pointless (the worker exited); `reached(events, total)` reports how
    far it is."""
    ends = {k: end for k, end in ends.items() if end > 0}
    total = sum(ends.values())
    deadline = time.monotonic() + timeout_s
    while True:
        done = await progress.progress()
        count = sum(min(done.get(k, 0), end) for k, end in ends.items())
        if reached is not None:
            reached(count, total)
        now = time.monotonic()
        if count >= total:
            return now
        if check is not None:
            check()
        if now > deadline:
            behind = {k: (end, done.get(k, 0)) for k, end in ends.items() if done.get(k, 0) < end}
            raise CatchUpTimeout(behind, timeout_s)
        await asyncio.sleep(poll_s)


async def remove_keys(
    client: aioredis.Redis | RedisNodes, patterns: Sequence[str], removed: Callable[[int], None] | None = None
) -> int:
    """Deletes the keys matching `patterns` (a version's leftovers, projections/versions.py) in batches: UNLINK
    frees memory in the background, never blocking Redis. Each primary of a cluster scans and removes the keys
    it serves. `removed(n)` is told of each batch."""
    nodes = client if isinstance(client, RedisNodes) else RedisNodes(client)
    count = 0
    for node in nodes.primaries():
        for pattern in patterns:
            chunk: list[Any] = []
            async for key in node.scan_iter(match=pattern, count=UNLINK_CHUNK):
                chunk.append(key)
                if len(chunk) >= UNLINK_CHUNK:
                    count += await _unlink(node, chunk, removed)
                    chunk = []
            if chunk:
                count += await _unlink(node, chunk, removed)
    return count


async def _unlink(node: aioredis.Redis, chunk: list[Any], removed: Callable[[int], None] | None) -> int:
    """One UNLINK per key: the keys of one node are in many slots, and a command's keys must share one."""
    async with node.pipeline(transaction=False) as pipe:
        for key in chunk:
            pipe.unlink(key)
        n = sum(int(x) for x in await pipe.execute())
    if removed is not None:
        removed(len(chunk))
    return n


def _flat(pairs: Sequence[tuple[int, int]]) -> list[int]:
    return [x for pair in pairs for x in pair]


def _views(pairs: Sequence[tuple[int, int]], raw: Sequence[Any]) -> dict[int, TweetView]:
    """Views from hydrate.lua's 11 values per pair; a tweet whose hash is missing is left out. Hot: one
    call per timeline page, so positional arguments and one UserView per author."""
    out: dict[int, TweetView] = {}
    authors: dict[int, UserView | None] = {}
    for i, (tweet_id, author_id) in enumerate(pairs):
        a, c, ts, r, e, m, d, lc, rc, h, n = raw[i * 11 : i * 11 + 11]
        if a is None or ts is None:  # unknown here, or another node's (ELSEWHERE): the caller looks there
            continue
        if author_id not in authors:
            if h is None:
                authors[author_id] = None
            else:
                authors[author_id] = ELSEWHERE_USER if h == ELSEWHERE else UserView(author_id, h.decode(), n.decode())
        out[tweet_id] = TweetView(
            tweet_id,
            int(a),
            c.decode(),
            _from_micros(ts) or datetime.now(UTC),
            int(r) if r else None,
            _from_micros(e),
            tuple(Media(**x) for x in json.loads(m)) if m else (),
            bool(d),
            int(lc),
            int(rc),
            authors[author_id],
        )
    return out


At = tuple[int, Any, int]  # where a queued command is: (round, node, position in that node's pipeline)


@dataclass(frozen=True)
class Pacing:
    """How the fan-out shares Redis with reads. A fan-out script call delivers to at most `chunk` followers;
    a round trip carries at most `round` deliveries' worth of calls. Redis runs a pipeline's commands ahead of
    a read that arrives behind them, so while the API serves timeline reads (`ReadPressure.reading`) rounds and
    calls carry at most `reading_round` deliveries: a read waits for a small round, and bulk work without
    readers keeps its big ones. While the API says its reads are slow, the worker also pauses `yield_s`
    before each round: fan-out lags, reads do not."""

    chunk: int = 256
    round: int = 1024
    yield_s: float = 0.02
    pressure: ReadPressure | None = None
    reading_round: int = 64
    reading_pause: float = 0.0
    parallel: int = 1

    @property
    def reading(self) -> bool:
        """Whether timelines are being read, as the pressure was last asked (never, without one)."""
        return self.pressure is not None and self.pressure.reading

    def width_now(self) -> int:
        """Rounds of deliveries in flight at once now: `parallel`, or one while reads are being served (two
        rounds back to back hold Redis as long as one round twice the size)."""
        return 1 if self.reading else self.parallel

    def pause_after(self, round_s: float) -> float:
        """Seconds to pause after a round that took `round_s`: `reading_pause` times it while reads are being
        served (a round that waited behind reads in Redis took longer, so the pause grows with the reads)."""
        return round_s * self.reading_pause if self.reading else 0.0

    def round_now(self) -> int:
        """Deliveries per round trip now: `reading_round` while reads are being served."""
        return self.reading_round if self.reading else self.round

    def chunk_now(self) -> int:
        """Deliveries per script call now (never more than a round's)."""
        return min(self.chunk, self.round_now())


@dataclass
class Replicas:
    """How many replicas must hold a write round before the worker goes on (WAIT at the end of each node's
    pipeline): Redis replicates asynchronously, and a primary that dies before its replica copied a write takes
    it along, while Kafka's offsets say it was applied. A round that fewer replicas acknowledged within
    `timeout_ms` (a replica is down, or resyncing) is let through and logged: the alternative, stopping the
    pipeline until a replica returns, trades availability for a loss that needs a second failure."""

    count: int = 0
    timeout_ms: int = 100
    short: int = 0  # rounds let through under-replicated

    def check(self, nodes: Iterable[Any]) -> None:
        for node in nodes:
            self.short += 1
            if self.short == 1 or self.short % 1000 == 0:
                kw = node.connection_pool.connection_kwargs
                log.warning("Redis writes on %s:%s reached fewer than %d replicas in %d ms (%d rounds so far)",
                            kw.get("host"), kw.get("port"), self.count, self.timeout_ms, self.short)  # fmt: skip


class ReadPressure:
    """The signals from the read side to the fan-out, two short-lived keys under the base prefix shared by every
    API process and worker: an API process serving timeline reads sets `reading` (for `ttl_ms`, at most every
    `ttl_ms / 4`), and one whose read took longer than its budget sets `pressure` likewise. The worker asks before
    each fan-out round, remembering the answers for `memo_s`: it sends small rounds while reads are served
    (`Pacing.reading_round`) and yields while they are slow."""

    def __init__(self, client: aioredis.Redis, base: str, ttl_ms: int = 1000, memo_s: float = 0.05) -> None:
        self.r = client
        self.key = read_pressure(base)
        self.reading_key = reads_active(base)
        self.ttl_ms = ttl_ms
        self.memo_s = memo_s
        self._set_at: dict[str, float] = {}  # when this process last set each key
        self._asked = (0.0, False)
        self.reading = False  # as last asked (`active`)

    async def signal(self) -> None:
        """A timeline read was slow."""
        await self._set(self.key)

    async def mark_reading(self) -> None:
        """A timeline read is being served."""
        await self._set(self.reading_key)

    async def _set(self, key: str) -> None:
        """Sets `key` for `ttl_ms`, at most once per `ttl_ms / 4` from this process (cheap on every read)."""
        now = time.monotonic()
        if now - self._set_at.get(key, 0.0) >= self.ttl_ms / 4000:
            self._set_at[key] = now
            await self.r.set(key, 1, px=self.ttl_ms)

    async def active(self) -> bool:
        """Whether reads are slow; refreshes `reading` too."""
        now = time.monotonic()
        at, value = self._asked
        if now - at >= self.memo_s:
            async with self.r.pipeline(transaction=False) as pipe:
                pipe.exists(self.key)
                pipe.exists(self.reading_key)
                slow, reading = await pipe.execute()
            value, self.reading = bool(slow), bool(reading)
            self._asked = (now, value)
        return value


class RedisTimelineWrites:
    """One batch of events' changes, queued in log order on pipelines of bounded work (`Pacing`), sent one
    after another: the order is the log's, so one author's posts, edits and deletes apply as the log has
    them. A post is recorded in that order (the author's list, the celebrity decision); after the rest of the
    batch it is planned (so the plan sees the batch's deletes, follows and unfollows) and delivered, oldest
    tweet first and every chunk of a tweet before the next tweet's, the author's own timeline with the first,
    so that each delivery is newer than the head of the timelines it reaches and costs one LPUSH. A follow
    in the batch has backfilled the tweet already: delivering it again changes nothing."""

    def __init__(self, tl: RedisTimelines) -> None:
        self.tl = tl
        self.p = tl.p
        self.keys = tl.keys
        self.rounds: list[dict[Any, Any]] = []  # per round: a pipeline per Redis node
        self.weight = 0
        self.queued = 0
        self._new_round()
        self.fanouts: list[tuple[At, tuple[EncodableT, ...]]] = []  # where each fan-out step is, its script args
        self.backfills: list[At] = []  # follow backfills (entries delivered)
        # Follows and unfollows in log order: the followee's side is queued at once, the follower's side (on
        # another node, after the followee's answer for a follow) in that same order after the batch.
        self.links: list[tuple[int, int, At | None]] = []  # (follower, followee, the follow's first step)
        self.unpushes: list[tuple[At, bytes, bytes]] = []  # (where, entry, message) of each delete
        self.edits: list[tuple[int, bytes]] = []  # (author, "edit" message cut before its author) to push
        self.followings: list[tuple[int, int]] = []  # the batch's follows, (follower, followee): see `follow`

    def _new_round(self) -> None:
        self.rounds.append({})
        self.weight = 0

    def _pipe(self, key: str, round_: dict[Any, Any] | None = None) -> tuple[Any, Any]:
        """The pipeline of `round_` (the current round by default) to the node that serves `key` (one node: one
        pipeline)."""
        node = self.tl.nodes.for_key(key)
        current = self.rounds[-1] if round_ is None else round_
        pipe = current.get(node)
        if pipe is None:
            pipe = current[node] = node.pipeline(transaction=False)
        return node, pipe

    def _at(self, node: Any, pipe: Any) -> At:
        self.queued += 1
        return len(self.rounds) - 1, node, len(pipe.command_stack) - 1

    def _script(self, name: str, anchor: str, *args: EncodableT, weight: int = 1) -> At:
        """A script call on the node that serves `anchor` (the key it is about)."""
        if self.weight and self.weight + weight > self.tl.pacing.round_now():
            self._new_round()
        self.weight += weight
        script = self.tl._scripts[name]
        node, pipe = self._pipe(anchor)
        pipe.evalsha(script.sha, 0, self.p, *args)  # loaded on the node before the round (`_send_round`)
        return self._at(node, pipe)

    def _command(self, key: str, name: str, *args: Any, **options: Any) -> At:
        """One command on `key`, on its node."""
        node, pipe = self._pipe(key)
        getattr(pipe, name)(key, *args, **options)
        return self._at(node, pipe)

    def save_user(self, user_id: int, handle: str, display_name: str) -> None:
        self._command(self.keys.user(user_id), "hset", mapping={"h": handle, "n": display_name})
        self._command(self.keys.handle(handle.lower()), "set", user_id)
        self._command(self.keys.handles(), "zadd", {f"{handle.lower()} {user_id}": 0})

    def post(self, t: TweetView) -> None:
        """Caches the tweet, counts it as a reply, and fans it out (unless the store only records)."""
        fields: dict[FieldT, EncodableT] = {
            "a": t.author_id,
            "c": t.content,
            "ts": _micros(t.created_at),
            "r": t.reply_to or "",
            "m": json.dumps([media_json(m) for m in t.media]) if t.media else "",
        }
        self._command(self.keys.tweet(t.tweet_id), "hset", mapping=fields)
        if t.reply_to:
            self._command(self.keys.replies(t.reply_to), "sadd", t.tweet_id)
        entry = encode_entry(t.tweet_id, t.author_id)
        tl = self.tl
        head = update_head(t) if tl.publish else b""
        fixed = (t.author_id, entry, tl.cap, tl.threshold, int(tl.push), tl.publish, head)
        self._fan_out(fixed, b"record", t.tweet_id, weight=1)

    def _fan_out(self, fixed: tuple[EncodableT, ...], step: EncodableT, tweet_id: int, weight: int) -> None:
        args = (*fixed, step, self.tl.pacing.chunk, tweet_id)
        author = self.keys.user_tweets(_text(fixed[0]) if isinstance(fixed[0], bytes) else str(fixed[0]))
        self.fanouts.append((self._script("fanout", author, *args, weight=weight), args))

    def edit(self, tweet_id: int, content: str, edited_at: datetime, author_id: int | None = None) -> None:
        self._command(self.keys.tweet(tweet_id), "hset", mapping={"c": content, "e": _micros(edited_at)})
        if self.tl.publish and author_id is not None:
            self.edits.append((author_id, edit_head(tweet_id, content, edited_at)))

    def delete(self, tweet_id: int, author_id: int, reply_to: int | None) -> None:
        self._command(self.keys.tweet(tweet_id), "hset", "d", 1)
        if reply_to:
            self._command(self.keys.replies(reply_to), "srem", tweet_id)
        gone = delete_message(tweet_id) if self.tl.publish else b""
        entry = encode_entry(tweet_id, author_id)
        at = self._script("unpush", self.keys.user_tweets(author_id), author_id, entry, self.tl.publish, gone)
        self.unpushes.append((at, entry, gone))

    def follow(self, follower: int, followee: int) -> None:
        """The follower's following set gets the followee before follow.lua snapshots the followee's list (a
        round of its own, first in the flush): a timeline built between the two sides then lists the followee
        and takes its tweets from its list, where a tweet posted after the snapshot is, while the timeline's
        deliveries before the build missed it. follow_in.lua adds it again, in log order with unfollows."""
        self.followings.append((follower, followee))
        anchor = self.keys.followers(followee)
        # A rebuild's record-only pass has no materialized timeline to backfill (its warm phase builds them from
        # the lists afterwards): it asks for no snapshot, which would cost a list read and its transfer twice.
        snapshot = self.tl.cap if self.tl.push else 0
        at = self._script("follow", anchor, follower, followee, snapshot, self.tl.threshold)
        self.links.append((follower, followee, at))

    def unfollow(self, follower: int, followee: int) -> None:
        self._script("unfollow", self.keys.followers(followee), follower, followee)
        self.links.append((follower, followee, None))

    def like(self, tweet_id: int, user_id: int, liked: bool) -> None:
        self._command(self.keys.likes(tweet_id), "sadd" if liked else "srem", user_id)

    async def flush(self) -> int:
        """Sends the batch's rounds in order; then plans the fan-out of its posts (after the rest of the batch,
        so the plan sees its follows and unfollows) and sends their deliveries, oldest tweet first and every
        chunk of a tweet before the next tweet's. Returns the deliveries (fan-out and follow backfills)."""
        links, unpushes, edits = self.links, self.unpushes, self.edits
        self.links, self.unpushes, self.edits = [], [], []
        if self.followings and self.tl.push:
            await self._send_round(self._followings_round())
        self.followings = []  # a record-only pass builds no timeline in between: follow_in.lua's SADD suffices
        fanouts, _, results = await self._send_all()
        delivered = 0
        promoted = [followee for _, followee, at in links if at and _celebrity_now(_result(results, at))]
        plans: list[tuple[int, tuple[EncodableT, ...]]] = []
        celebrities: list[tuple[EncodableT, ...]] = []
        for (r, n, i), args in fanouts:
            count, celebrity, step, *more = results[r][n][i]
            delivered += int(count)
            if more and int(more[0]):
                promoted.append(int(args[0]))
            if int(celebrity) and self.tl.publish:
                celebrities.append(args)
            if _text(step) == "plan":
                plans.append((int(args[-1]), args[:-3]))
        if promoted:
            await self.tl.promote(promoted)
        backfills = self._followers_sides(links, results)
        if celebrities:
            await self._celebrities_told(celebrities)
        if edits:
            await self._edits_told(edits)
        self._undeliver(unpushes, results)
        plans.sort(key=lambda x: x[0])
        for tweet_id, fixed in plans:
            self._fan_out(fixed, b"plan", tweet_id, weight=max(self.tl.pacing.chunk_now() // 8, 1))
        planned, _, results = await self._send_all()
        delivered += sum(int(_result(results, at)) for at in backfills)
        inboxes: dict[bytes, list[bytes]] = {}  # follower -> the batch's entries for them, oldest first
        messages: dict[bytes, bytes] = {}  # entry -> its "update" message (when publishing)
        for ((r, n, i), _args), (_tweet, fixed) in zip(planned, plans, strict=True):
            reply = results[r][n][i]
            if _text(reply[2]) != "deliver":
                continue
            entry = cast(bytes, fixed[1])
            if reply[3]:
                messages[entry] = reply[3]
            for user in reply[4:]:
                got = inboxes.setdefault(user, [])
                if not got or got[-1] != entry:  # a tweet twice in the batch (plans are sorted by tweet)
                    got.append(entry)
        sent = self._deliver(inboxes, bool(messages))
        _, _, results = await self._send_all(disjoint=True)
        replies = [_result(results, at) for at in sent]
        if messages:
            await self._publish_updates(replies, messages)
        return delivered + sum(int(reply[0]) for reply in replies)

    def _followings_round(self) -> dict[Any, Any]:
        """The batch's follows on the followers' sides (SADD to their following sets), a pipeline per node."""
        round_: dict[Any, Any] = {}
        for follower, followee in self.followings:
            key = self.keys.following(follower)
            _, pipe = self._pipe(key, round_)
            pipe.sadd(key, followee)
            pipe.srem(self.keys.unfollowed(follower), id_bytes(followee))  # following again: deliver again
        return round_

    async def _celebrities_told(self, posts: list[tuple[EncodableT, ...]]) -> None:
        """Celebrities' new tweets told to their followers who are online now (the online index, read once),
        on each celebrity's node, a chunk of online users per call."""
        tl = self.tl
        chunk = tl.pacing.chunk_now()
        online = await tl.r.zrangebyscore(online_index(tl.publish), time.time(), "+inf")
        for author, _entry, _cap, _threshold, _push, base, head, *_ in posts:
            anchor = self.keys.followers(_text(author) if isinstance(author, bytes) else str(author))
            for k in range(0, len(online), chunk):
                part = online[k : k + chunk]
                self._script("celebpush", anchor, author, base, head, *part, weight=len(part))

    async def _edits_told(self, edits: list[tuple[int, bytes]]) -> None:
        """Edited tweets told to their authors and the authors' followers who are online now (the online index,
        read once), after the edit's own writes; the API's Mastodon streams send them as `status.update`."""
        tl = self.tl
        chunk = tl.pacing.chunk_now()
        online = await tl.r.zrangebyscore(online_index(tl.publish), time.time(), "+inf")
        for author, head in edits:
            anchor = self.keys.followers(str(author))
            for k in range(0, len(online), chunk):
                part = online[k : k + chunk]
                self._script("editpush", anchor, author, tl.publish, head, *part, weight=len(part))

    def _followers_sides(self, links: list[tuple[int, int, At | None]], results: list[Any]) -> list[At]:
        """The follower's side of each follow and unfollow, in log order, on the follower's node; returns where
        the follows' backfills are."""
        keys, tl = self.tl.keys, self.tl
        backfills: list[At] = []
        # An unfollow the batch follows again later has nothing to remember: deliveries are wanted again.
        last_follow = {(a, b): n for n, (a, b, at) in enumerate(links) if at is not None}
        for n, (follower, followee, at) in enumerate(links):
            anchor = keys.following(follower)
            if at is None:
                remember = 0 if last_follow.get((follower, followee), -1) > n else UNFOLLOWED_S
                self._script("unfollow_in", anchor, follower, followee, id_bytes(followee), tl.cap, remember)
                continue
            reply = _result(results, at)
            mode = _text(reply[0])
            rest = reply[2:] if mode == "merge" else []
            backfills.append(self._script("follow_in", anchor, follower, followee, id_bytes(followee), tl.cap, mode,
                                          *rest, weight=max(len(rest), 1)))  # fmt: skip
        return backfills

    def _undeliver(self, unpushes: list[tuple[At, bytes, bytes]], results: list[Any]) -> None:
        """Deleted tweets taken out of their followers' timelines, node by node, a chunk at a time."""
        keys, tl = self.tl.keys, self.tl
        chunk = tl.pacing.chunk_now()
        base = tl.publish if tl.publish else ""
        for at, entry, msg in unpushes:
            users = _result(results, at)[1:]
            for k in range(0, len(users), chunk):
                for _, group in tl.nodes.group(users[k : k + chunk], lambda u: keys.timeline(_text(u))):
                    anchor = keys.timeline(_text(group[0]))
                    self._script("undeliver", anchor, entry, base, msg, *group, weight=len(group))

    def _deliver(self, inboxes: dict[bytes, list[bytes]], publish: bool) -> list[At]:
        """The batch's deliveries grouped by follower (deliver.lua), node by node, each call carrying whole
        followers up to `chunk` entries (a follower with more has a call of their own)."""
        keys, tl = self.tl.keys, self.tl
        chunk = tl.pacing.chunk_now()
        base = tl.publish if publish else ""
        out: list[At] = []
        for _, group in tl.nodes.group(inboxes.items(), lambda item: keys.timeline(_text(item[0]))):
            args: list[EncodableT] = []
            weight = 0
            for i, (user, entries) in enumerate(group):
                args += (user, b"".join(entries))
                weight += len(entries)
                if weight >= chunk or i == len(group) - 1:  # a call full, or the node's last
                    out.append(self._script("deliver", keys.timeline(_text(user)), tl.cap, base, *args, weight=weight))
                    args, weight = [], 0
        return out

    async def _publish_updates(self, replies: list[Any], messages: dict[bytes, bytes]) -> None:
        """The "update" messages of what deliver.lua reports it delivered to followers online then, each on
        the node of the follower's channel."""
        for reply in replies:
            at = 1
            while at < len(reply):
                user, k = _text(reply[at]), int(reply[at + 1])
                for entry in reply[at + 2 : at + 2 + k]:
                    self._command(channel(self.tl.publish, user), "publish", messages[entry])
                at += 2 + k
        if self.queued:
            await self._send_all()

    async def _send_all(
        self, disjoint: bool = False
    ) -> tuple[list[tuple[At, tuple[EncodableT, ...]]], list[At], list[dict[Any, list[Any]]]]:
        """Sends every queued round in order (each round's node pipelines at once); returns what was queued
        (fan-outs, backfills) and the results, per round and node. `disjoint`: no two rounds touch the same
        keys (a batch's deliveries: each follower is in one call), so their order does not matter, and while
        nobody reads `Pacing.parallel` of them are in flight at once (the worker packs one and reads another's
        replies while Redis runs a third)."""
        width = self.tl.pacing.width_now() if disjoint else 1
        if width > 1 and len(self.rounds) > 1:
            results = await self._send_concurrently(width)
        else:
            results = [await self._send_round(round_) for round_ in self.rounds]
        fanouts, backfills = self.fanouts, self.backfills
        self.rounds, self.fanouts, self.backfills, self.queued = [], [], [], 0
        self._new_round()
        return fanouts, backfills, results

    async def _send_concurrently(self, width: int) -> list[dict[Any, list[Any]]]:
        """The queued rounds, `width` at a time; every one has finished (or failed) before this returns, so that
        a retry of the batch never runs beside a round of the failed attempt."""
        gate = asyncio.Semaphore(width)

        async def one(round_: dict[Any, Any]) -> dict[Any, list[Any]]:
            async with gate:
                return await self._send_round(round_)

        done = await asyncio.gather(*(one(r) for r in self.rounds), return_exceptions=True)
        for result in done:
            if isinstance(result, BaseException):
                raise result
        return cast(list[dict[Any, list[Any]]], done)

    async def _send_round(self, round_: dict[Any, Any]) -> dict[Any, list[Any]]:
        pipes = [(node, pipe) for node, pipe in round_.items() if pipe.command_stack]
        if not pipes:
            return {}
        pacing = self.tl.pacing
        # Asked before every round even with the yield off: the answer also refreshes `reading` (round sizes).
        if pacing.pressure is not None and await pacing.pressure.active() and pacing.yield_s > 0:
            await asyncio.sleep(pacing.yield_s)  # reads are slow: let them through first
        wait = self.tl.replicas
        if wait.count:  # last in each pipeline, on its connection: its writes are on `count` replicas
            for _, pipe in pipes:
                pipe.execute_command("WAIT", wait.count, wait.timeout_ms)
        for node, _ in pipes:
            await self.tl.ensure_scripts(node)
        started = time.perf_counter()
        try:
            if len(pipes) == 1:
                done = [await pipes[0][1].execute()]
            else:
                done = await asyncio.gather(*(pipe.execute() for _, pipe in pipes))
        except BaseException:
            for node, _ in pipes:
                self.tl.forget_scripts(node)  # a NOSCRIPT among the errors: load them again on the retry
            raise
        pause = pacing.pause_after(time.perf_counter() - started)
        if pause > 0:
            await asyncio.sleep(pause)  # reads are being served: the fan-out takes its share, not all of Redis
        if wait.count:
            wait.check(node for (node, _), result in zip(pipes, done, strict=True) if result[-1] < wait.count)
        return {node: list(result) for (node, _), result in zip(pipes, done, strict=True)}
