"""Versions of the read models, so they can be rebuilt beside the live ones and switched to at once.

A version is two data locations: the Redis key prefix of its home timelines (and trends, caches) and the
Cassandra keyspace of its durable projections. The first, `v1`, uses the configured prefix and keyspace.
`chirp replay timelines` makes a version with its own prefix (`<prefix>vN:`) that shares the live
keyspace; `replay projections` one with its own keyspace (`<keyspace>_vN`) that shares the live prefix;
`replay all` one with both of its own. A version is `building` while a bulk rebuild fills it,
`following` once the worker keeps it up to date from where the rebuild stopped, `ready` when it has
caught up, `live` when reads go to it, and `retired` when another one was promoted (then whatever data
no other version uses is removed). The worker writes every version that is following, ready or live,
each location once: a shared one is written by the live pass. Each version keeps its own progress
(`<prefix>vN:progress`, `<prefix>progress` for v1: the next offset per partition), so the worker knows
which events a version still needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis

from infra.redisnodes import RedisNodes
from projections.stores.keys import data_patterns, legacy_registry_keys, own_patterns, registry_keys

FIRST = "v1"
STATES = ("building", "following", "ready", "live", "retired")
WRITTEN = ("following", "ready", "live")
# What a version holds (see docs/architecture.md) is spelled by the key layout (projections/stores/keys.py).
# Removing v1, whose prefix is the base prefix itself, goes key family by family so it never touches another
# version's keys.


class VersionError(ValueError):
    """A version that does not exist, or an operation its state does not allow."""


@dataclass(frozen=True)
class Version:
    name: str
    state: str
    created_at: str
    note: str = ""
    timelines: str = ""  # the version whose Redis prefix holds this one's timelines ("": its own)
    keyspace: str = ""  # the Cassandra keyspace of its durable projections ("": the configured one)

    def prefix(self, base: str) -> str:
        """Where its timelines are (possibly another version's prefix, shared)."""
        return prefix_of(base, self.timelines or self.name)

    def own_prefix(self, base: str) -> str:
        """Where its own bookkeeping is (progress, stats): never shared."""
        return prefix_of(base, self.name)

    def keyspace_in(self, base_keyspace: str) -> str:
        return self.keyspace or base_keyspace


@dataclass(frozen=True)
class Pass:
    """What the worker writes for one version: the locations no version written before it has written."""

    version: Version
    timelines: bool
    durable: bool
    primary: bool  # the live version's pass: it alone dead-letters, counts metrics and publishes


def passes(versions: Sequence[Version]) -> list[Pass]:
    """The written versions, the live one first, each writing the locations no pass before it wrote."""
    out: list[Pass] = []
    prefixes: set[str] = set()
    keyspaces: set[str] = set()
    for v in written(versions):
        tl, ks = v.timelines or v.name, v.keyspace
        out.append(Pass(v, tl not in prefixes, ks not in keyspaces, primary=not out))
        prefixes.add(tl)
        keyspaces.add(ks)
    return out


@dataclass(frozen=True)
class Leftovers:
    """What a retired version leaves that no other version uses: Redis key patterns and a keyspace."""

    patterns: list[str]
    keyspace: str | None  # "" means the configured keyspace: its projection tables, never the keyspace itself


def leftovers(base: str, retired: Version, versions: Sequence[Version]) -> Leftovers:
    """The data of `retired` that no other version still being written or served uses."""
    in_use = [v for v in versions if v.state != "retired" and v.name != retired.name]
    tl_owner = retired.timelines or retired.name
    own = retired.own_prefix(base)
    patterns = own_patterns(own)
    if all((v.timelines or v.name) != tl_owner for v in in_use):
        patterns += key_patterns(base, tl_owner)
    keyspace = None if any(v.keyspace == retired.keyspace for v in in_use) else retired.keyspace
    return Leftovers(patterns, keyspace)


def prefix_of(base: str, name: str) -> str:
    return base if name == FIRST else f"{base}{name}:"


def key_patterns(base: str, name: str) -> list[str]:
    """SCAN patterns covering exactly one version's keys."""
    if name != FIRST:
        return [f"{prefix_of(base, name)}*"]
    return data_patterns(base)


def written(versions: Sequence[Version]) -> list[Version]:
    """The versions the worker keeps up to date, the live one first (it alone writes Cassandra)."""
    return sorted((v for v in versions if v.state in WRITTEN), key=lambda v: (v.state != "live", v.name))


class RegistryBackup(Protocol):
    """A durable copy of the registry: name -> JSON per version, and `live` -> the live version's name."""

    async def load(self) -> dict[str, str]: ...
    async def save(self, rows: dict[str, str]) -> None: ...


LIVE_ROW = "live"


class VersionRegistry:
    """The registry in Redis, beside the versions: `<prefix>versions` (name -> JSON) and `<prefix>live`.

    With a `backup`, every change is copied there, and a registry missing from Redis (wiped) is restored from
    it on the next read, so the live version's keyspace is never forgotten.

    Both keys carry one hash tag (keys.registry_keys), so the MULTI that changes them together is sent to one
    node of a Redis Cluster as to one Redis. A registry under the names it had before is moved to them when
    read (`_read` asks for the old names in the same round trip)."""

    def __init__(self, client: aioredis.Redis | RedisNodes, base: str, backup: RegistryBackup | None = None) -> None:
        """`client`: one Redis, or the nodes of a Redis Cluster (infra/redisnodes.py)."""
        self.r: Any = client.client if isinstance(client, RedisNodes) else client
        self.base = base
        self.key, self.live_key = registry_keys(base)
        self.legacy = legacy_registry_keys(base)
        self.backup = backup

    async def _read(self) -> tuple[dict[str, str], str | None]:
        async with self.r.pipeline(transaction=False) as pipe:  # a cluster pipeline splits it by slot
            pipe.hgetall(self.key)
            pipe.get(self.live_key)
            pipe.hgetall(self.legacy[0])
            pipe.get(self.legacy[1])
            raw, live, old_raw, old_live = await pipe.execute()
        moved = not raw and not live and bool(old_raw or old_live)
        if moved:
            raw, live = old_raw, old_live
        rows = {k.decode(): v.decode() for k, v in raw.items()}
        name = live.decode() if live else None
        if moved:
            await self._write(rows, name)
            await self.r.delete(self.legacy[0])
            await self.r.delete(self.legacy[1])  # one key per DEL: the old names are in two slots
        return rows, name

    async def _write(self, rows: dict[str, str], live: str | None) -> None:
        """Rows and the live pointer (unless one is set already), together."""
        if rows or live:
            async with self.r.pipeline(transaction=True) as pipe:
                if rows:
                    pipe.hset(self.key, mapping=rows)
                if live:
                    pipe.set(self.live_key, live, nx=True)
                await pipe.execute()

    async def _restored(self) -> tuple[dict[str, str], str | None]:
        rows, live = await self._read()
        if rows or live or self.backup is None:
            return rows, live
        saved = await self.backup.load()
        live = saved.pop(LIVE_ROW, None)
        await self._write(saved, live)
        return saved, live

    async def _backed_up(self) -> None:
        if self.backup is not None:
            rows, live = await self._read()
            await self.backup.save({**rows, LIVE_ROW: live or FIRST})

    async def all(self) -> list[Version]:
        raw, live = await self._restored()
        versions = {k: Version(**json.loads(v)) for k, v in raw.items()}
        live_name = live or FIRST
        if FIRST not in versions:  # a deployment that never rebuilt: v1 is implicit
            state = "live" if live_name == FIRST else "retired"
            versions[FIRST] = Version(FIRST, state, "")
        return sorted(versions.values(), key=lambda v: int(v.name[1:]))

    async def get(self, name: str) -> Version:
        for v in await self.all():
            if v.name == name:
                return v
        raise VersionError(f"no version {name!r}; see `chirp status`")

    async def live(self) -> Version:
        return next(v for v in await self.all() if v.state == "live")

    def next_name(self, versions: Sequence[Version]) -> str:
        return f"v{max(int(v.name[1:]) for v in versions) + 1}"

    async def create(self, note: str, timelines: str = "", keyspace: str = "") -> Version:
        """A new version, building, named after the highest one so far. `timelines` names the version whose
        prefix it shares ("": its own); `keyspace` is its keyspace ("": the configured one), where `{name}`
        stands for the new version's name."""
        name = self.next_name(await self.all())
        created = datetime.now(UTC).isoformat(timespec="seconds")
        version = Version(name, "building", created, note, timelines, keyspace.replace("{name}", name))
        if not await self.r.hsetnx(self.key, version.name, json.dumps(asdict(version))):
            raise VersionError(f"{version.name} was created by someone else at the same time; try again")
        await self._backed_up()
        return version

    async def set_state(self, name: str, state: str) -> Version:
        assert state in STATES
        version = Version(**{**asdict(await self.get(name)), "state": state})
        await self.r.hset(self.key, name, json.dumps(asdict(version)))
        await self._backed_up()
        return version

    async def promote(self, name: str) -> Version:
        """Switches reads to `name` (which must be ready); returns the version that was live."""
        target = await self.get(name)
        if target.state == "live":
            raise VersionError(f"{name} is already live")
        if target.state != "ready":
            raise VersionError(f"{name} is {target.state}; only a ready version can be promoted")
        old = await self.live()
        live = Version(**{**asdict(target), "state": "live"})
        retired = Version(**{**asdict(old), "state": "retired"})
        async with self.r.pipeline(transaction=True) as pipe:  # the pointer and both states change together
            pipe.hset(self.key, mapping={name: json.dumps(asdict(live)), old.name: json.dumps(asdict(retired))})
            pipe.set(self.live_key, name)
            await pipe.execute()
        await self._backed_up()
        return old

    async def forget(self, name: str) -> None:
        await self.r.hdel(self.key, name)
        await self._backed_up()


def gaps(messages: Sequence[Any], progress: dict[str, int]) -> list[tuple[str, int, int, int]]:
    """Per partition of a batch, the offsets a version lacks before the batch: (topic, partition, from, to).

    A version whose progress on a partition is behind the batch's first offset there was rebuilt up to that
    progress and is being caught up; a partition with no progress yet has nothing to catch up.
    """
    first: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic, m.partition)
        first[key] = min(first.get(key, m.offset), m.offset)
    out = []
    for (topic, partition), offset in sorted(first.items()):
        known = progress.get(f"{topic}:{partition}")
        if known is not None and known < offset:
            out.append((topic, partition, known, offset))
    return out
