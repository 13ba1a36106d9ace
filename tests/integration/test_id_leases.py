"""Unique ids across processes and hosts: each API process leases its id-generator node in Redis, never
takes it from its pid. Three API processes, each in a PID namespace of its own (so each is pid 1, as in
containers), write at once: no id is made twice. A process whose lease is taken from it leases another node,
and its ids stay above the node's earlier ones."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from infra import redisnodes
from infra.settings import Settings
from projections.stores.keys import node_lease
from projections.stores.redis_nodes import RedisNodeLeases
from schemas.ids import NODE_BITS, SEQ_BITS, TOOL_NODES
from tests.integration.support import ApiProcess

pytestmark = pytest.mark.integration

PID_NAMESPACE = ("unshare", "--pid", "--fork", "--kill-child=SIGTERM")


def node_of(id_: int) -> int:
    return (id_ >> SEQ_BITS) & ((1 << NODE_BITS) - 1)


@pytest.fixture(scope="module")
def apis(settings: Settings) -> Iterator[list[ApiProcess]]:
    started: list[ApiProcess] = []
    try:
        for _ in range(3):
            started.append(ApiProcess(settings, launcher=PID_NAMESPACE))
        yield started
    finally:
        for p in started:
            p.stop()


def register(url: str, handle: str) -> tuple[str, dict[str, str]]:
    r = httpx.post(f"{url}/users", json={"handle": handle, "display_name": handle}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}


def post_many(url: str, handle: str, n: int) -> list[int]:
    user, auth = register(url, handle)
    out = [int(user)]
    with httpx.Client(timeout=30) as c:
        for i in range(n):
            r = c.post(f"{url}/tweets", headers=auth, json={"user_id": user, "content": f"tweet {i}"})
            assert r.status_code == 201, r.text
            out.append(int(r.json()["tweet_id"]))
    return out


def post_once_ready(url: str, deadline: float) -> int:
    """A new user's tweet id, retrying the 503 a process answers between losing its node's lease and leasing
    another (it makes no ids then, as documented: "retry later")."""
    with httpx.Client(timeout=30) as c:
        while True:
            r = c.post(f"{url}/users", json={"handle": f"m{uuid.uuid4().hex[:8]}", "display_name": "m"})
            if r.status_code == 201:
                user, token = r.json()["user_id"], r.json()["token"]
                r = c.post(f"{url}/tweets", headers={"Authorization": f"Bearer {token}"},
                           json={"user_id": user, "content": "after the steal"})  # fmt: skip
                if r.status_code == 201:
                    return int(r.json()["tweet_id"])
            assert r.status_code == 503 and "cannot make ids" in r.text, r.text
            assert time.monotonic() < deadline, "the process made no ids again"
            time.sleep(0.05)


def test_processes_that_share_a_pid_never_make_the_same_id(apis: list[ApiProcess], uniq: str) -> None:
    pid = subprocess.run([*PID_NAMESPACE, sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    assert pid.stdout.strip() == "1"  # what each API process sees as its pid: the old node (pid % 1024) for all
    jobs = [(p.url, f"i{n}{k}{uniq}") for n, p in enumerate(apis) for k in range(2)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        made = list(pool.map(lambda job: post_many(job[0], job[1], 60), jobs))
    every = [i for ids in made for i in ids]
    assert len(every) == len(set(every)) == len(jobs) * 61
    nodes = [{node_of(i) for i in made[2 * n] + made[2 * n + 1]} for n in range(len(apis))]
    assert all(len(n) == 1 for n in nodes)  # one node per process...
    assert len(set.union(*nodes)) == len(apis)  # ...and a different one each
    assert not set.union(*nodes) & set(TOOL_NODES)


def test_a_process_whose_lease_is_taken_leases_another_node(settings: Settings, uniq: str) -> None:
    api = ApiProcess(settings, CHIRP_ID_LEASE_S="1.5")  # renewed every half second
    try:
        before = post_many(api.url, f"l{uniq}", 3)
        node = node_of(before[-1])

        async def steal() -> None:
            nodes = await redisnodes.open_nodes(settings)
            await nodes.client.set(node_lease(settings.redis_prefix, node)[0], "another process")
            await nodes.aclose()

        asyncio.run(steal())
        deadline = time.monotonic() + 30
        while node_of(after := post_once_ready(api.url, deadline)) == node:
            assert time.monotonic() < deadline, "the process kept making ids as a node it no longer holds"
        assert after > max(before)
    finally:
        api.stop()


async def test_a_node_goes_to_one_holder_and_the_next_starts_above_the_last(settings: Settings) -> None:
    nodes = await redisnodes.open_nodes(settings)
    client = nodes.client
    leases = RedisNodeLeases(nodes, f"{settings.redis_prefix}ids{uuid.uuid4().hex[:6]}:", nodes=range(5, 6))
    try:
        got = await leases.acquire("a", 60_000, 1_000_000)
        assert got == (5, 0, 1_060_000)
        assert await leases.acquire("b", 60_000, 1_000_000) is None  # the only node is held
        assert await leases.renew(5, "a", 60_000, 1_090_000) and not await leases.renew(5, "b", 60_000, 1_090_000)
        await leases.release(5, "b")  # not b's: nothing happens
        assert await leases.holder(5) == b"a"
        await leases.release(5, "a")
        assert await leases.acquire("b", 60_000, 500_000) == (5, 1_090_000, 1_150_000)  # above a's ids
    finally:
        for key in node_lease(leases.base, 5):
            await client.delete(key)
        await nodes.aclose()
