"""An API process's ids come from a leased node: it stops making them when its lease may have lapsed, and a
lease lost to another process is replaced by a new node whose ids start above the old holder's."""

from __future__ import annotations

import asyncio

import pytest

from api.idlease import LeasedIds
from schemas.ids import EPOCH_MS, IdsUnavailable


class FakeLeases:
    """Leases as Redis keeps them (node:{n} with a lapse time, nodehw:{n}), on a clock the test moves."""

    def __init__(self, clock: list[int], nodes: int = 3) -> None:
        self.clock = clock
        self.nodes = nodes
        self.held: dict[int, tuple[str, int]] = {}  # node -> (holder, lapses at)
        self.high: dict[int, int] = {}
        self.reachable = True

    def _live(self, node: int) -> tuple[str, int] | None:
        got = self.held.get(node)
        return got if got and got[1] > self.clock[0] else None

    async def acquire(self, holder: str, ttl_ms: int, now_ms: int) -> tuple[int, int, int] | None:
        if not self.reachable:
            raise ConnectionError("redis is unreachable")
        for node in range(self.nodes):
            if self._live(node) is None:
                self.held[node] = (holder, self.clock[0] + ttl_ms)
                old = self.high.get(node, 0)
                self.high[node] = max(old, now_ms) + ttl_ms
                return node, old, self.high[node]
        return None

    async def renew(self, node: int, holder: str, ttl_ms: int, until_ms: int) -> bool:
        if not self.reachable:
            raise ConnectionError("redis is unreachable")
        live = self._live(node)
        if live is None or live[0] != holder:
            return False
        self.held[node] = (holder, self.clock[0] + ttl_ms)
        self.high[node] = max(self.high.get(node, 0), until_ms)
        return True

    async def release(self, node: int, holder: str) -> None:
        if self._live(node) and self.held[node][0] == holder:
            del self.held[node]


def test_two_processes_get_different_nodes_and_one_gives_its_back() -> None:
    clock = [EPOCH_MS + 1_000_000]
    leases = FakeLeases(clock, nodes=2)
    a, b, c = (LeasedIds(leases, 30, lambda: clock[0]) for _ in range(3))
    assert asyncio.run(a.start()) != asyncio.run(b.start())
    with pytest.raises(RuntimeError, match="every id-generator node"):
        asyncio.run(c.start())
    asyncio.run(a.stop())
    assert asyncio.run(c.start()) == 0


def test_a_process_cut_off_from_redis_stops_making_ids_when_its_lease_ends() -> None:
    clock = [EPOCH_MS + 1_000_000]
    leases = FakeLeases(clock)
    ids = LeasedIds(leases, 30, lambda: clock[0])
    asyncio.run(ids.start())
    ids.next_id()
    leases.reachable = False
    clock[0] += 10_000
    with pytest.raises(ConnectionError):
        asyncio.run(ids.renew())
    ids.next_id()  # within the lease it renewed last
    clock[0] += 20_001
    with pytest.raises(IdsUnavailable):
        ids.next_id()
    leases.reachable = True
    asyncio.run(ids.renew())  # lapsed, so it leases again (maybe the same node, above its own last ids)
    assert ids.next_id() > 0


def test_a_lease_lost_to_another_process_is_replaced_and_ids_never_repeat() -> None:
    clock = [EPOCH_MS + 1_000_000]
    leases = FakeLeases(clock, nodes=1)
    first = LeasedIds(leases, 30, lambda: clock[0])
    asyncio.run(first.start())
    made = {first.next_id() for _ in range(100)}
    clock[0] += 30_001  # the first stalls past its lease; it lapses
    behind = [clock[0] - 60_000]  # the next holder's clock is a minute behind
    second = LeasedIds(leases, 30, lambda: behind[0])
    assert asyncio.run(second.start()) == 0
    later = {second.next_id() for _ in range(100)}
    assert not made & later and min(later) > max(made)
    with pytest.raises(IdsUnavailable):
        first.next_id()  # past its lease: it makes nothing
    with pytest.raises(RuntimeError):
        asyncio.run(first.renew())  # its node is taken and there is no other
    with pytest.raises(IdsUnavailable):
        first.next_id()
