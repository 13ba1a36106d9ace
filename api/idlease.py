"""The API process's ids: made as an id-generator node it leases (projections/stores/redis_nodes.py), never
as its pid or host. The lease is renewed every third of its time to live; the generator refuses to make ids
past the end of the lease it last renewed, so a process cut off from Redis stops making ids (writes get 503)
before another can take its node. A lease found taken (it lapsed and went to another process) is replaced by
a new node at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from schemas.ids import IdGenerator, IdsUnavailable, wall_ms

log = logging.getLogger("chirp.ids")


class NodeLeases(Protocol):
    async def acquire(self, holder: str, ttl_ms: int, now_ms: int) -> tuple[int, int, int] | None: ...
    async def renew(self, node: int, holder: str, ttl_ms: int, until_ms: int) -> bool: ...
    async def release(self, node: int, holder: str) -> None: ...


class LeasedIds:
    """An IdSource whose node comes from a lease. `start` takes one; `keep` renews it until cancelled."""

    def __init__(self, leases: NodeLeases, ttl_s: float, clock_ms: Callable[[], int] = wall_ms) -> None:
        self.leases = leases
        self.ttl_ms = int(ttl_s * 1000)
        self.clock = clock_ms
        self.holder = uuid.uuid4().hex
        self.gen: IdGenerator | None = None

    @property
    def node(self) -> int | None:
        return self.gen.node_id if self.gen else None

    def next_id(self) -> int:
        if self.gen is None:
            raise IdsUnavailable("this process holds no id lease now; retry shortly")
        return self.gen.next_id()

    async def start(self) -> int:
        """Leases a node (raises RuntimeError if every node is held). Its ids lie above the previous holder's
        high-water mark and up to this holder's own (recorded in Redis before any id is made), so holders of
        one node never share an id, whatever their clocks; with clocks in step the mark is also when the lease
        lapses, so a process that cannot renew stops making ids before another can take its node."""
        got = await self.leases.acquire(self.holder, self.ttl_ms, self.clock())
        if got is None:
            raise RuntimeError("every id-generator node is leased by another process")
        node, floor, until = got
        self.gen = IdGenerator(node, self.clock, floor_ms=floor, until_ms=until)
        log.info("ids: leased node %d", node)
        return node

    async def renew(self) -> None:
        """Extends the lease; a lease lost to another process is replaced by a new node."""
        if self.gen is None:
            await self.start()
            return
        until = max(self.clock(), self.gen.high_ms) + self.ttl_ms
        if await self.leases.renew(self.gen.node_id, self.holder, self.ttl_ms, until):
            self.gen.until_ms = until
            return
        log.warning("ids: the lease on node %d was lost; leasing another", self.gen.node_id)
        self.gen = None
        await self.start()

    async def keep(self) -> None:
        """Renews every third of the time to live; failures are retried (ids stop when the lease ends)."""
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self.renew()
            except Exception as exc:
                log.warning("ids: cannot renew the node lease (%s); retrying", exc)

    async def stop(self) -> None:
        """Gives the node back (its high-water mark stays, for the next holder)."""
        if self.gen is not None:
            node, self.gen = self.gen.node_id, None
            with contextlib.suppress(Exception):
                await self.leases.release(node, self.holder)
