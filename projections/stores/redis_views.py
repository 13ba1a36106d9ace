"""Redis: a reading process's own copy of the tweet views it served, kept exact by Redis itself.

A timeline page costs Redis its entries (the sources and the merge, ~40 µs) and their hydration (an `HMGET` of
every tweet and author, two `SCARD`s per tweet: about as much again, and as much once more for the API to
parse). The same tweets are on many pages, so an API process keeps the views it read (`ViewCache`) and asks
Redis only for the entries and the views it has not got.

Exactness comes from Redis's client-side caching (`CLIENT TRACKING ... BCAST`): `ViewTracker` keeps one
connection per primary, which asks to be told of every change to a key under the prefixes of the tweet hashes,
the like and reply sets and the user hashes (`t:`, `lk:`, `rp:`, `u:` of one version), and subscribes to those
messages (RESP2: the connection redirects them to itself). A message drops the views it touches. Three races are
closed:

1. A view read before a change whose message arrives before the view is stored: every read takes a token (the
   count of messages so far) when it starts, and a view is stored only if nothing touching it arrived since.
2. Messages lost with a connection: while any node's connection is not set up, or a ping on it goes unanswered,
   nothing is served from the cache or stored in it, and it is emptied when that starts and ends. A change of the
   primaries (a failover, a node added) starts every connection again.
3. A read that must see a write the worker has applied (read your writes): the change's message may still be on
   its way when the worker's progress says it is applied. `sync` pings every connection; a message sent before
   the ping is handled before its answer, so after `sync` the cache holds nothing older than what was applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from redis.exceptions import RedisError

from infra.redisnodes import RedisNodes
from projections.model import TweetView
from projections.stores.keys import RedisKeys

log = logging.getLogger("chirp.views")
CHANNEL = b"__redis__:invalidate"
TWEET_FAMILIES = ("t", "lk", "rp")  # the keys a tweet's view is read from (its hash, likes, replies)
USER_FAMILY = "u"  # the author's hash (handle, display name)
PRUNE_AT = 1_024  # invalidations remembered for reads in flight before the oldest ones are pruned


class ViewCache:
    """Tweet views by id, at most `size`, oldest stored first out. Pure bookkeeping (no I/O): `ViewTracker` feeds
    it Redis's invalidation messages and turns it on and off."""

    def __init__(self, prefix: str, size: int) -> None:
        self.size = size
        keys = RedisKeys(prefix)
        # (key head, whether its id is a user's): a changed key under a head drops the views it feeds
        self._heads = [(keys.id_head(f).encode(), f == USER_FAMILY) for f in (*TWEET_FAMILIES, USER_FAMILY)]
        self._views: dict[int, TweetView] = {}
        self._by_author: dict[int, set[int]] = {}
        self._seq = 0  # invalidation messages (and clears) so far
        self._cleared = 0  # `_seq` at the last clear
        self._tweets_dropped: dict[int, int] = {}  # tweet -> `_seq` of its last invalidation, oldest first
        self._users_dropped: dict[int, int] = {}
        self._reads: dict[int, int] = {}  # tokens of reads in flight -> how many
        self.live = False
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    def __len__(self) -> int:
        return len(self._views)

    def prefixes(self) -> list[str]:
        """The key prefixes whose changes drop views (for `CLIENT TRACKING ... BCAST PREFIX`)."""
        return [head.decode() for head, _ in self._heads]

    def set_live(self, live: bool) -> None:
        """Serve and store views only while every node's invalidations reach this cache; emptied on each change."""
        if live != self.live:
            self.live = live
            self.clear()

    def clear(self) -> None:
        self._seq += 1
        self._cleared = self._seq
        self._views.clear()
        self._by_author.clear()

    def get(self, tweet_ids: Iterable[int]) -> dict[int, TweetView]:
        """The views held of `tweet_ids` (none while not live)."""
        if not self.live:
            return {}
        views = self._views
        found = {t: views[t] for t in tweet_ids if t in views}
        self.hits += len(found)
        return found

    def begin(self) -> int:
        """A token for a read of views from Redis that starts now: `put` stores what it read if nothing touching
        it changed since. Pair with `end`."""
        token = self._seq
        self._reads[token] = self._reads.get(token, 0) + 1
        return token

    def end(self, token: int) -> None:
        left = self._reads[token] - 1
        if left:
            self._reads[token] = left
        else:
            del self._reads[token]
        if not self._reads:
            self._tweets_dropped.clear()
            self._users_dropped.clear()
        elif len(self._tweets_dropped) + len(self._users_dropped) > PRUNE_AT:
            oldest = min(self._reads)
            _prune(self._tweets_dropped, oldest)
            _prune(self._users_dropped, oldest)

    def put(self, token: int, views: Iterable[TweetView]) -> None:
        """Stores views read by the read `token` names, unless a change to one of their keys (or a clear) came
        after the read began. Views without an author are not stored."""
        if not self.live or token < self._cleared:
            return
        tweets_dropped, users_dropped = self._tweets_dropped, self._users_dropped
        for v in views:
            if v.author is None or v.author.user_id != v.author_id:
                continue
            if tweets_dropped.get(v.tweet_id, 0) > token or users_dropped.get(v.author_id, 0) > token:
                continue
            self.misses += 1
            self._store(v)

    def _store(self, v: TweetView) -> None:
        views = self._views
        if v.tweet_id not in views and len(views) >= self.size:
            self._forget(next(iter(views)))
        views[v.tweet_id] = v
        self._by_author.setdefault(v.author_id, set()).add(v.tweet_id)

    def _forget(self, tweet_id: int) -> None:
        v = self._views.pop(tweet_id, None)
        if v is not None:
            same = self._by_author.get(v.author_id)
            if same is not None:
                same.discard(tweet_id)
                if not same:
                    del self._by_author[v.author_id]

    def invalidate(self, keys: Sequence[bytes] | None) -> None:
        """One invalidation message: the keys that changed, or None for all of them (FLUSHALL, FLUSHDB)."""
        self.invalidations += 1
        if keys is None:
            self.clear()
            return
        self._seq += 1
        for key in keys:
            self._drop(key)

    def _drop(self, key: bytes) -> None:
        """Drops what `key` (`<prefix><family>:{<id>}`) feeds; keys of other prefixes and families are ignored."""
        head, is_user = next(((h, u) for h, u in self._heads if key.startswith(h)), (b"", False))
        rest = key[len(head) :]
        if not head or not rest.endswith(b"}"):
            return
        try:
            ident = int(rest[:-1])
        except ValueError:
            return
        if is_user:
            for t in list(self._by_author.get(ident, ())):
                self._forget(t)
        else:
            self._forget(ident)
        if self._reads:  # a read in flight may have begun before this change: `put` must know of it
            dropped = self._users_dropped if is_user else self._tweets_dropped
            dropped.pop(ident, None)  # re-inserted last: the dict stays oldest first for `_prune`
            dropped[ident] = self._seq


def _prune(dropped: dict[int, int], oldest: int) -> None:
    """Forgets the invalidations no read in flight began before (`dropped` is oldest first)."""
    while dropped:
        first = next(iter(dropped))
        if dropped[first] > oldest:
            return
        del dropped[first]


class _Link:
    """One primary's tracking connection: RESP2, subscribed to the invalidation channel, its messages redirected to
    itself. Pings are answered in order, after every message sent before them."""

    def __init__(self, conn: Any, name: str) -> None:
        self.conn = conn
        self.name = name
        self.pongs: deque[asyncio.Future[None]] = deque()

    async def ping(self, timeout_s: float) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pongs.append(done)
        await self.conn.send_command("PING")
        await asyncio.wait_for(done, timeout_s)

    def fail(self, exc: BaseException) -> None:
        while self.pongs:
            waiter = self.pongs.popleft()
            if not waiter.done():
                waiter.set_exception(exc)


class ViewTracker:
    """Keeps `cache` fed with the invalidations of every primary of `nodes`, and live only while they all arrive.
    Start it with `start`, stop it with `stop`; `sync` before a read that must see what was applied."""

    def __init__(self, nodes: RedisNodes, cache: ViewCache, ping_s: float = 1.0, name: str = "chirp-views") -> None:
        """`name`: the links' client name (`CLIENT LIST` shows which connections are whose)."""
        self.nodes = nodes
        self.name = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in name)
        self.cache = cache
        self.ping_s = ping_s
        self._links: list[_Link] = []
        self._broken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="view-tracker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sync(self) -> None:
        """Returns once every invalidation Redis sent before now has reached the cache (or the cache is off)."""
        if not self.cache.live:
            return
        try:
            await asyncio.gather(*(link.ping(self.ping_s) for link in self._links))
        except (RedisError, OSError, TimeoutError) as exc:
            self._down(f"a ping went unanswered ({exc!r})")

    def _down(self, why: str) -> None:
        if self.cache.live:
            log.warning("view cache off: %s", why)
        self.cache.set_live(False)
        self._broken.set()

    async def _supervise(self) -> None:
        """Sets the links up, watches them, and sets them up again after any failure or change of primaries."""
        backoff = self.ping_s / 4
        while True:
            readers: list[asyncio.Task[None]] = []
            try:
                await self.nodes.refresh()
                primaries = self.nodes.primaries()
                self._broken.clear()
                self._links = [await self._open(node) for node in primaries]
                readers = [asyncio.create_task(self._read(link)) for link in self._links]
                names = sorted(link.name for link in self._links)
                self.cache.set_live(True)
                log.info("view cache on: tracking %d node(s)", len(self._links))
                backoff = self.ping_s / 4
                await self._watch(names)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node away or a failover under way: off until every link is back
                self._down(f"cannot track invalidations ({exc!r})")
            finally:
                self.cache.set_live(False)
                for task in readers:
                    task.cancel()
                await self._close_links()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5 * self.ping_s)

    async def _watch(self, names: list[str]) -> None:
        """Pings every link each `ping_s`; returns when one failed or the primaries changed."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._broken.wait(), self.ping_s)
            if self._broken.is_set():
                return
            await self.sync()
            if self._broken.is_set():
                return
            # The primaries as the cluster client knows them (it learns of a failover from its own commands'
            # errors); a link to a dead primary fails on its own, and tracking starts again from a refresh.
            if sorted(_name(n) for n in self.nodes.primaries()) != names:
                log.info("view cache: the primaries changed; tracking them again")
                return

    async def _open(self, node: Any) -> _Link:
        pool = node.connection_pool
        conn = pool.connection_class(
            **{**pool.connection_kwargs, "protocol": 2, "socket_timeout": None, "client_name": self.name}
        )
        try:
            await conn.connect()
            await conn.send_command("CLIENT", "ID")
            client_id = await conn.read_response()
            prefixes = [arg for p in self.cache.prefixes() for arg in ("PREFIX", p)]
            await conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes)
            await conn.read_response()
            await conn.send_command("SUBSCRIBE", CHANNEL)
            await conn.read_response()
        except BaseException:
            await conn.disconnect()
            raise
        return _Link(conn, _name(node))

    async def _read(self, link: _Link) -> None:
        """Hands every message of a link to the cache, answers its pings; a failure turns the cache off."""
        try:
            while True:
                msg = await link.conn.read_response(timeout=None)
                kind = msg[0]
                if kind == b"message" and msg[1] == CHANNEL:
                    self.cache.invalidate(msg[2])
                elif kind == b"pong" and link.pongs:
                    waiter = link.pongs.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
        except asyncio.CancelledError:
            link.fail(ConnectionError("the view tracker stopped"))
            raise
        except Exception as exc:
            link.fail(exc)
            self._down(f"lost the link to {link.name} ({exc!r})")

    async def _close_links(self) -> None:
        links, self._links = self._links, []
        for link in links:
            link.fail(ConnectionError("the view tracker's link closed"))
            with contextlib.suppress(Exception):
                await link.conn.disconnect()


def _name(node: Any) -> str:
    kwargs = node.connection_pool.connection_kwargs
    return f"{kwargs.get('host')}:{kwargs.get('port')}:{kwargs.get('path', '')}"
