"""What operators run against a deployment: rebuild read models into a new version beside the live one,
promote it, verify what is served against the event log, and see the state of the whole pipeline.

The rebuild never stops the live version: it fills the new version's own locations from the log (a Redis
prefix for timelines, fan-out off, then the timelines of the users active now; a fresh keyspace for the
durable projections), then the worker takes the version over from where the rebuild stopped and keeps it
current until it is promoted. Promoting moves one pointer; the API follows it within
`CHIRP_VERSION_REFRESH_S`; only after that is the data no version uses any more removed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tqdm import tqdm

from infra import cassandra, redisnodes
from infra.kafka import admin_client, end_offsets
from infra.redisnodes import RedisNodes
from infra.settings import Settings
from projections.factory import StoreFactory, VersionStores, progress_of, timelines_of
from projections.model import TweetView
from projections.queries import Queries
from projections.reference import ReferenceModel
from projections.stores import redis as redis_store
from projections.stores.cassandra import CassandraProjections, CassandraRegistryBackup
from projections.stores.redis import CatchUpTimeout, RedisProgress
from projections.versions import Version, VersionError, VersionRegistry, leftovers
from schemas.codec import DecodeError, default_codec
from streams.replay import LogReader, RebuildResult, Rebuilt, rebuild


class OperateError(RuntimeError):
    """Something an operator must act on (the message says what)."""


async def _client(settings: Settings) -> RedisNodes:
    """The command's Redis: one, or a cluster's nodes (CHIRP_REDIS_CLUSTER_NODES)."""
    return await redisnodes.open_nodes(settings, socket_timeout=30)


class _Backup:
    """The registry's copy in Cassandra, for one operator command: connected only when it is used (every change
    to the versions, or a registry Redis lost)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cluster: Any = None
        self.store: CassandraRegistryBackup | None = None

    async def _open(self) -> CassandraRegistryBackup:
        if self.store is None:
            self.cluster, session = await asyncio.to_thread(cassandra.connect, self.settings, self.settings.keyspace)
            self.store = await asyncio.to_thread(CassandraRegistryBackup, session)
        return self.store

    async def load(self) -> dict[str, str]:
        return await (await self._open()).load()

    async def save(self, rows: dict[str, str]) -> None:
        await (await self._open()).save(rows)

    async def close(self) -> None:
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.shutdown)


_backups: list[_Backup] = []


def _registry(settings: Settings, client: RedisNodes) -> VersionRegistry:
    backup = _Backup(settings)
    _backups.append(backup)
    return VersionRegistry(client, settings.redis_prefix, backup)


async def _close(client: RedisNodes) -> None:
    """The command's Redis client and the registry copies it opened."""
    await client.aclose()
    while _backups:
        await _backups.pop().close()


async def _stores_factory(settings: Settings, client: RedisNodes, keyspace: str) -> StoreFactory:
    """The command's Redis client, and Cassandra connected to `keyspace` (shut down by the caller)."""
    cluster, session = await asyncio.to_thread(cassandra.connect, settings, keyspace)
    return StoreFactory(settings, client, cluster, {keyspace: session})


# Rebuild ---------------------------------------------------------------------------------------------


async def replay(
    settings: Settings, what: Rebuilt, since: datetime | None = None, show: bool = True
) -> tuple[Version, RebuildResult]:
    """A new version rebuilt from the log, caught up by the worker, left `ready` for `promote`. It has its own
    timelines (`timelines`, `all`) and its own keyspace (`projections`, `all`); the rest it shares with the
    live version, which keeps writing that."""
    client = await _client(settings)
    try:
        registry = _registry(settings, client)
        live = await registry.live()
        own_timelines, own_keyspace = what in ("timelines", "all"), what in ("projections", "all")
        active = await timelines_of(settings, client, live).materialized_users() if own_timelines else []
        since_note = f" since {since.isoformat()}" if since else ""
        version = await registry.create(
            note=f"{what} rebuilt from the log{since_note} while {live.name} was live",
            timelines="" if own_timelines else (live.timelines or live.name),
            keyspace=f"{settings.keyspace}_{{name}}" if own_keyspace else live.keyspace,
        )
        if own_keyspace:
            await asyncio.to_thread(create_keyspace, settings, version.keyspace)
        group = f"{settings.topic_prefix}rebuild-{version.name}"
        result = await rebuild(settings, version, what, group, warm=lambda: active, show=show, since=since)
        await registry.set_state(version.name, "following")  # the worker takes it from here
        progress = progress_of(settings, client, version)
        await wait_caught_up(settings, progress, show, f"worker catching {version.name} up")
        return await registry.set_state(version.name, "ready"), result
    finally:
        await _close(client)


def create_keyspace(settings: Settings, keyspace: str) -> None:
    from infra.migrate import ensure_keyspace

    ensure_keyspace(settings.model_copy(update={"keyspace": keyspace}), report=lambda _: None)


async def wait_caught_up(
    settings: Settings, progress: RedisProgress, show: bool, desc: str, deadline_s: float | None = None
) -> None:
    """Until a version's progress reaches the end offsets taken now (the worker writes it)."""
    ends = await end_offsets(settings)
    wait_s = deadline_s or settings.operate_timeout_s
    total = sum(end for end in ends.values() if end > 0)
    with tqdm(total=total, desc=desc, unit="ev", unit_scale=True, disable=not show, mininterval=1) as bar:
        try:
            await progress.wait_until(ends, wait_s, poll_s=0.05, reached=lambda n, _: bar.update(n - bar.n))
        except CatchUpTimeout as exc:
            raise OperateError(
                f"{desc}: still {exc.events} events behind after {wait_s:.0f}s; the stream worker "
                "keeps versions up to date: is it running (`make worker`)?"
            ) from None


async def rebuild_user(settings: Settings, user_id: int) -> int:
    """One user's home timeline rebuilt in place in the live version: the follow list again from Cassandra,
    then the timeline from the authors' lists. Returns its entries."""
    client = await _client(settings)
    live = await _registry(settings, client).live()
    factory = await _stores_factory(settings, client, live.keyspace_in(settings.keyspace))
    try:
        stores = await factory.version(live)
        followees = await _all_following(stores.durable, user_id)
        return await stores.timelines.rebuild_from_graph(user_id, followees)
    finally:
        await _close(client)
        factory.cluster.shutdown()


async def _all_following(durable: CassandraProjections, user_id: int) -> list[int]:
    out: list[int] = []
    cursor: int | None = None
    while True:
        page = await durable.following(user_id, cursor, 5000)
        out += page
        if len(page) < 5000:
            return out
        cursor = page[-1]


# Promote ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promoted:
    old: Version
    keys_removed: int
    keyspace_removed: str | None  # the keyspace dropped, or whose projection tables were emptied


async def promote(settings: Settings, name: str, show: bool = True) -> Promoted:
    """Switches reads to `name`; once every API process has followed, removes the data no version uses."""
    client = await _client(settings)
    try:
        registry = _registry(settings, client)
        old = await registry.promote(name)
        # API processes re-read the pointer every CHIRP_VERSION_REFRESH_S: the old version must stay whole
        # until all of them have moved, so no read in flight finds it half removed.
        await asyncio.sleep(2 * settings.version_refresh_s + 1)
        return await _remove_leftovers(settings, client, registry, old, show)
    finally:
        await _close(client)


async def retire(settings: Settings, name: str, show: bool = True) -> Promoted:
    """Discards a version that is not live (a rebuild not wanted): the worker stops writing it, then the data
    no other version uses is removed."""
    client = await _client(settings)
    try:
        registry = _registry(settings, client)
        version = await registry.get(name)
        if version.state == "live":
            raise VersionError(f"{name} is live: promote another version instead (that retires {name})")
        if version.state == "retired":
            raise VersionError(f"{name} is already retired")
        await registry.set_state(name, "retired")
        await asyncio.sleep(max(2 * settings.version_refresh_s, 2.0) + 1)  # the worker re-reads versions each second
        return await _remove_leftovers(settings, client, registry, version)
    finally:
        await _close(client)


async def _remove_leftovers(
    settings: Settings, client: RedisNodes, registry: VersionRegistry, old: Version, show: bool = True
) -> Promoted:
    gone = leftovers(settings.redis_prefix, old, await registry.all())
    removed = await remove_keys(client, gone.patterns, f"removing {old.name}", show)
    keyspace = None
    if gone.keyspace is not None:
        from infra.migrate import remove_projections

        keyspace = gone.keyspace or settings.keyspace
        await asyncio.to_thread(remove_projections, settings, keyspace)
    return Promoted(old, removed, keyspace)


async def remove_keys(client: RedisNodes, patterns: list[str], desc: str, show: bool = True) -> int:
    """Deletes keys in batches (UNLINK frees memory in the background, never blocking Redis). On a cluster the
    general client's SCAN walks every primary and its UNLINK of a batch is split by slot."""
    with tqdm(desc=desc, unit="keys", unit_scale=True, disable=not show, mininterval=1) as bar:
        return await redis_store.remove_keys(client.client, patterns, bar.update)  # type: ignore[arg-type]


# Verify -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    user_id: int
    expected: list[tuple[int, str]]
    served: list[tuple[int, str]]
    notes: tuple[str, ...] = ()  # what Redis held for the timeline, and what a second read served (`_diagnose`)

    def first_difference(self) -> int:
        at = next((i for i, (a, b) in enumerate(zip(self.expected, self.served, strict=False)) if a != b), None)
        return min(len(self.expected), len(self.served)) if at is None else at

    def describe(self) -> str:
        at = self.first_difference()
        exp = self.expected[at] if at < len(self.expected) else None
        got = self.served[at] if at < len(self.served) else None
        return (
            f"user {self.user_id}: {len(self.served)} entries served, {len(self.expected)} expected; "
            f"first difference at #{at + 1}: expected {_entry(exp)}, served {_entry(got)}"
            + "".join(f"; {n}" for n in self.notes)
        )


def _entry(e: tuple[int, str] | None) -> str:
    return "nothing" if e is None else f"tweet {e[0]} {e[1][:40]!r}"


async def _served(queries: Queries, user_id: int, depth: int) -> tuple[list[TweetView], bool]:
    """The newest `depth` tweets of a home timeline as a client paging it sees them: a page may end short with a
    cursor (the read side's work per request is bounded), and the client goes on from it. Whether a read rebuilt
    the timeline."""
    tweets: list[TweetView] = []
    before: int | None = None
    rebuilt = False
    for _ in range(depth + 1):
        page = await queries.home(user_id, before, depth - len(tweets))
        tweets += page.tweets
        rebuilt = rebuilt or page.rebuilt
        if len(tweets) >= depth or page.next_before is None:
            break
        before = page.next_before
    return tweets[:depth], rebuilt


async def verify(
    settings: Settings, sample: int | None, depth: int, show: bool = True, report: Callable[[str], None] = print
) -> tuple[int, list[Mismatch]]:
    """Every (or a sample of) home timeline as the API serves it, against the reference model of the log.

    Returns (users checked, mismatches). Waits for the worker to reach the end of the log first; a
    timeline the check had to materialize is dropped again, so verifying does not make users active.
    """
    client = await _client(settings)
    live = await _registry(settings, client).live()
    factory = await _stores_factory(settings, client, live.keyspace_in(settings.keyspace))
    try:
        stores = await factory.version(live)
        progress = stores.progress
        if await progress.progress():
            await wait_caught_up(settings, progress, show, f"waiting for the worker ({live.name})")
        else:  # wiped, or never written: nothing to wait for, and the check will say what is missing
            report(f"warning: {live.name} has no recorded progress (was Redis wiped?); verifying it as it is")
        model = await reference_model(settings, show)
        users = sorted(model.users)
        if sample is not None and sample < len(users):
            import random

            users = sorted(random.Random(0).sample(users, sample))
        queries = stores.queries
        mismatches: list[Mismatch] = []
        for u in tqdm(users, desc=f"verifying {live.name}", unit="tl", disable=not show, mininterval=1):
            tweets, rebuilt = await _served(queries, u, depth)
            served = [(t.tweet_id, t.content) for t in tweets]
            expected = [(t, model.content[t]) for t in model.home(u, depth)]
            if served != expected:
                mismatch = Mismatch(u, expected, served)
                mismatch = replace(mismatch, notes=await _diagnose(stores, mismatch, depth, rebuilt))
                mismatches.append(mismatch)
                report(mismatch.describe())
            if rebuilt:
                await stores.timelines.forget_timeline(u)
        return len(users), mismatches
    finally:
        await _close(client)
        factory.cluster.shutdown()


async def _diagnose(stores: VersionStores, mismatch: Mismatch, depth: int, rebuilt: bool) -> tuple[str, ...]:
    """Where a difference comes from: whether Redis holds the expected tweet in the timeline's list or inbox
    (a read-side fault) or not (a lost delivery), and whether a second read serves the same (a race with the
    read, or a steady state)."""
    at = mismatch.first_difference()
    notes = ["the timeline was built by this read" if rebuilt else "the timeline was materialized before"]
    if at < len(mismatch.expected):
        tweet = mismatch.expected[at][0]
        held = [e.tweet_id for e in await stores.timelines.timeline_entries(mismatch.user_id)]
        notes.append(f"Redis holds the expected tweet at #{held.index(tweet) + 1} of {len(held)}" if tweet in held
                     else f"Redis does not hold the expected tweet ({len(held)} entries held)")  # fmt: skip
    again, _ = await _served(stores.queries, mismatch.user_id, depth)
    same = [(t.tweet_id, t.content) for t in again] == mismatch.served
    notes.append("a second read served the same" if same else "a second read served something else")
    return tuple(notes)


async def reference_model(settings: Settings, show: bool = True) -> ReferenceModel:
    """The oracle, computed straight from every event in the log now."""
    codec = default_codec()
    model = ReferenceModel()
    async for batch in LogReader(settings, None, show, "reading the log").batches():
        for record in batch:
            try:
                model.apply(codec.decode(record.value or b""))
            except DecodeError:
                continue  # poison: the worker dead-lettered it too
    return model


# Status -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineStatus:
    versions: list[tuple[Version, int]]  # each version with the events it is behind the log (-1: not tracked)
    lag: dict[str, tuple[int, int]]  # `topic:partition` -> (end offset, offset the worker group committed)
    dead_letters: int


async def _committed(admin: Any, settings: Settings, attempts: int = 20) -> dict[Any, Any]:
    """The worker group's committed offsets. Right after a cluster starts, the group coordinator (its offsets
    topic, being created with its replicas) may not be there yet: that passes, so ask again for a while."""
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    for attempt in range(attempts):
        try:
            committed: dict[Any, Any] = await admin.list_consumer_group_offsets(settings.worker_group)
            return committed
        except GroupCoordinatorNotAvailableError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    return {}


async def pipeline_status(settings: Settings) -> PipelineStatus:

    from schemas.topics import DEAD_LETTERS, EVENT_TOPICS

    everything = await end_offsets(settings, topics=(*EVENT_TOPICS, DEAD_LETTERS))
    dead_letters = DEAD_LETTERS.kafka_name(settings.topic_prefix) + ":"
    ends = {k: v for k, v in everything.items() if not k.startswith(dead_letters)}
    client = await _client(settings)
    admin = admin_client(settings)
    await admin.start()
    try:
        versions = []
        for v in await _registry(settings, client).all():
            behind = -1
            if v.state != "retired":
                progress = await progress_of(settings, client, v).progress()
                behind = sum(max(0, end - progress.get(k, 0)) for k, end in ends.items())
            versions.append((v, behind))
        done = {f"{tp.topic}:{tp.partition}": meta.offset for tp, meta in (await _committed(admin, settings)).items()}
        lag = {k: (end, max(done.get(k, 0), 0)) for k, end in sorted(ends.items())}
        dead = sum(v for k, v in everything.items() if k.startswith(dead_letters))
        return PipelineStatus(versions, lag, dead)
    finally:
        await admin.close()
        await _close(client)
