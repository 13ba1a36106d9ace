"""Push to connected clients (`GET /timeline/stream`, `/timeline/ws`): one Redis pub/sub connection per API
process, subscribed to exactly the users that have a client connected to this process.

The first client of a user here SUBSCRIBEs to the user's channel and sets the user's presence key; the last
one to leave UNSUBSCRIBEs (the presence key lapses by its TTL, since another process may still hold a client
of that user). While any client of a user is connected, every heartbeat refreshes the presence key and the
online index (projections/push.py). The worker publishes only for users whose presence key exists, so the
number of API processes does not matter: each one hears exactly the channels of its own clients.

A client's messages wait in a bounded queue; one that falls `push_buffer` messages behind is disconnected
(it reconnects with Last-Event-ID and catches up from the timeline) instead of growing memory. If the pub/sub
connection fails, messages published meanwhile are lost to this process, so every stream is ended the same
way and reconnects; the hub connects again with a backoff.

On a Redis Cluster the pub/sub connection goes to one node (classic PUBLISH is broadcast over the cluster bus,
so any node hears every channel), and each reconnection tries the next node: one that died is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from api.push.session import Client
from infra import redisnodes
from infra.redisnodes import RedisNodes
from infra.settings import Settings
from projections.push import channel, online_index, presence_key, user_of_channel
from projections.stores.redis_streams import RedisStreamLeases

log = logging.getLogger("chirp.push")

SUBSCRIBE_TIMEOUT_S = 5.0
PRESENCE_FLOOR_S = 5.0  # presence outlives short heartbeats (tests) by this much: a slow box must not lapse it


class PushUnavailable(RuntimeError):
    """The pub/sub connection is down or did not confirm a subscription: the client should retry."""


@dataclass
class _Subscriptions:
    """SUBSCRIBE commands sent and confirmed per channel: Redis confirms them in order on one connection,
    so a join waits for the confirmation of its own command, not an earlier one."""

    sent: Counter[bytes] = field(default_factory=Counter)
    confirmed: Counter[bytes] = field(default_factory=Counter)


class PushHub:
    def __init__(self, client: aioredis.Redis | RedisNodes, settings: Settings) -> None:
        """`client`: for presence writes (one Redis, or the nodes of a Redis Cluster). The pub/sub connection
        is its own, without retries: a reconnect hidden by a retry would lose messages silently."""
        self.nodes = client if isinstance(client, RedisNodes) else None
        self.r: Any = client.client if isinstance(client, RedisNodes) else client
        self.settings = settings
        self.base = settings.redis_prefix
        self.heartbeat_s = settings.push_heartbeat_s
        self.buffer = settings.push_buffer
        self.ttl_s = max(3 * settings.push_heartbeat_s, PRESENCE_FLOOR_S)
        self._attempts = 0  # pub/sub connections made: on a cluster, the node to try next
        self.clients: dict[int, set[Client]] = {}
        self.max_streams = settings.push_max_streams
        self.leases = RedisStreamLeases(client, self.base, self.ttl_s)
        self._releases: set[asyncio.Task[None]] = set()
        self._commands: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._subs = _Subscriptions()
        self._changed = asyncio.Condition()
        self._connected = False
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # Lifecycle -------------------------------------------------------------------------------------------

    async def start(self, wait_s: float = 5.0) -> None:
        """Starts the pub/sub connection and the presence refresh; waits (a while) for the connection, so
        the first stream after start-up is not refused."""
        self._tasks = [asyncio.create_task(self._run()), asyncio.create_task(self._refresh())]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s), self._changed:
                await self._changed.wait_for(lambda: self._connected)

    async def close(self) -> None:
        self.end_all("the API is shutting down")
        self._closing = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t

    @property
    def closing(self) -> bool:
        return self._closing

    def end_all(self, reason: str) -> None:
        """Ends every stream (they close cleanly; clients reconnect with Last-Event-ID)."""
        for clients in list(self.clients.values()):
            for c in list(clients):
                c.drop(reason)

    def on_exit_signals(self) -> None:
        """uvicorn waits for open responses to finish before it shuts the app down, and a stream never
        finishes: on SIGTERM/SIGINT end every stream first, then let uvicorn's own handler run."""
        if threading.current_thread() is not threading.main_thread():
            return  # in-process test clients: no signals
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: Any, previous: Callable[[int, Any], Any] = previous) -> None:
                self._closing = True
                loop.call_soon_threadsafe(self.end_all, "the API is shutting down")
                previous(signum, frame)

            signal.signal(sig, handler)

    # Clients ---------------------------------------------------------------------------------------------

    def streams_of(self, user_id: int) -> int:
        """Streams this process holds open for the user."""
        return len(self.clients.get(user_id, ()))

    async def claim(self, user_id: int) -> str | None:
        """A lease on one of the user's `push_max_streams` streams, counted across every API process (the
        stream then joins with it); None when the user has that many open."""
        if self.streams_of(user_id) >= self.max_streams:
            return None
        lease = uuid.uuid4().hex
        return lease if await self.leases.claim(user_id, lease, self.max_streams) else None

    async def join(self, user_id: int, lease: str = "") -> Client:
        """A new client of `user_id`, once this process is subscribed to the user's channel (so a timeline
        read after this misses nothing the worker publishes later). Raises PushUnavailable. `lease`: from
        `claim`, given back when the client leaves."""
        if self._closing or not self._connected:
            self._release(user_id, lease)
            raise PushUnavailable("the push connection to Redis is not up")
        client = Client(user_id, asyncio.Queue(self.buffer), lease=lease)
        ch = channel(self.base, user_id).encode()
        clients = self.clients.setdefault(user_id, set())
        clients.add(client)
        if len(clients) == 1:
            self._subs.sent[ch] += 1
            self._commands.put_nowait(("subscribe", ch))
            await self._refresh_presence([user_id])
        wanted = self._subs.sent[ch]
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S), self._changed:
                await self._changed.wait_for(lambda: client.dropped is not None or self._subs.confirmed[ch] >= wanted)
        except TimeoutError:
            self.leave(client)
            raise PushUnavailable("Redis did not confirm the subscription") from None
        if client.dropped is not None:
            self.leave(client)
            raise PushUnavailable(client.dropped)
        return client

    def leave(self, client: Client) -> None:
        clients = self.clients.get(client.user_id)
        if clients is None or client not in clients:
            return
        clients.discard(client)
        self._release(client.user_id, client.lease)
        if not clients:
            del self.clients[client.user_id]
            if self._connected:
                self._commands.put_nowait(("unsubscribe", channel(self.base, client.user_id).encode()))

    def _release(self, user_id: int, lease: str) -> None:
        """Gives a stream lease back, in the background (a lease not given back lapses in a few heartbeats)."""
        if not lease:
            return

        async def release() -> None:
            try:
                await self.leases.release(user_id, lease)
            except Exception as exc:
                log.info("push: a stream lease lapses by itself (%s)", exc)

        task = asyncio.create_task(release())
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    def _deliver(self, ch: bytes, raw: bytes) -> None:
        user_id = user_of_channel(self.base, ch)
        if user_id is None:
            return
        for c in list(self.clients.get(user_id, ())):
            if not c.offer(raw):
                log.warning("push: disconnecting a client of user %d: %s", user_id, c.dropped)

    # The pub/sub connection ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Connects, then reads messages and sends (un)subscribe commands until the connection fails; then
        ends every stream and connects again."""
        backoff = 0.1
        while True:
            node = redisnodes.node_client(
                self.settings, self.nodes, self._attempts,
                retry=Retry(NoBackoff(), 0), socket_keepalive=True, socket_connect_timeout=5,
            )  # fmt: skip
            self._attempts += 1
            pubsub: Any = node.pubsub()
            try:
                await pubsub.connect()
                self._subs = _Subscriptions()
                self._commands = asyncio.Queue()
                self._connected = True
                async with self._changed:
                    self._changed.notify_all()
                backoff = 0.1
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._read(pubsub))
                    tg.create_task(self._write(pubsub))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # a TaskGroup wraps failures in an ExceptionGroup
                log.warning("push: Redis pub/sub connection lost (%s); ending %d streams", exc, self.count())
            finally:
                self._connected = False
                self.end_all("the push connection to Redis was lost")
                self.clients.clear()
                async with self._changed:
                    self._changed.notify_all()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await node.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _read(self, pubsub: Any) -> None:
        while True:
            msg = await pubsub.get_message(timeout=None)
            if msg is None:
                continue
            kind = msg["type"]
            if kind == "message":
                self._deliver(msg["channel"], msg["data"])
            elif kind == "subscribe":
                self._subs.confirmed[msg["channel"]] += 1
                async with self._changed:
                    self._changed.notify_all()

    async def _write(self, pubsub: Any) -> None:
        """(Un)subscribe commands one at a time, in the order joins and leaves decided them. A cancellation that
        arrives while redis-py sends a command can be swallowed by it (seen with a leave right before `close`:
        the hub then never closed), so it is checked after each command."""
        me = asyncio.current_task()
        while True:
            command, ch = await self._commands.get()
            if command == "subscribe":
                await pubsub.subscribe(ch)
            else:
                await pubsub.unsubscribe(ch)
            if me is not None and me.cancelling():
                raise asyncio.CancelledError

    # Presence --------------------------------------------------------------------------------------------

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self._refresh_presence(list(self.clients))
            except Exception as exc:
                log.warning("push: cannot refresh presence (%s)", exc)

    async def _refresh_presence(self, users: list[int]) -> None:
        """Presence keys and the online index for `users`; prunes index entries whose presence lapsed."""
        now = time.time()
        index = online_index(self.base)
        async with self.r.pipeline(transaction=False) as pipe:
            for u in users:
                pipe.set(presence_key(self.base, u), 1, px=math.ceil(self.ttl_s * 1000))
            if users:
                pipe.zadd(index, {str(u): now + self.ttl_s for u in users})
            pipe.zremrangebyscore(index, "-inf", now)
            self.leases.renew(pipe, [(u, c.lease) for u in users for c in self.clients.get(u, ()) if c.lease])
            await pipe.execute()

    def count(self) -> int:
        return sum(len(c) for c in self.clients.values())
