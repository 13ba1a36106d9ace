"""Versions of the read model: which versions the worker writes, the offsets a version still lacks,
and the keys that belong to one version only (pure rules, no services)."""

from __future__ import annotations

from dataclasses import dataclass

from projections.stores.keys import RedisKeys, registry_keys
from projections.versions import Version, gaps, key_patterns, prefix_of, written


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int


def test_the_live_version_is_written_first_and_building_or_retired_ones_not_at_all() -> None:
    vs = [Version("v1", "retired", ""), Version("v2", "following", ""), Version("v3", "live", ""),
          Version("v4", "building", ""), Version("v5", "ready", "")]  # fmt: skip
    assert [v.name for v in written(vs)] == ["v3", "v2", "v5"]


def test_gaps_are_what_a_version_lacks_before_the_batch() -> None:
    batch = [Msg("t", 0, 10), Msg("t", 0, 11), Msg("t", 1, 5), Msg("f", 0, 3)]
    progress = {"t:0": 7, "t:1": 5, "f:0": 9}  # t:0 behind, t:1 exactly there, f:0 ahead (redelivery)
    assert gaps(batch, progress) == [("t", 0, 7, 10)]
    assert gaps(batch, {}) == []  # no progress yet: nothing to catch up


def test_each_version_owns_its_keys_only() -> None:
    assert prefix_of("chirp:", "v1") == "chirp:" and prefix_of("chirp:", "v2") == "chirp:v2:"
    assert key_patterns("chirp:", "v2") == ["chirp:v2:*"]
    v1, keys = key_patterns("chirp:", "v1"), RedisKeys("chirp:")
    assert keys.timelines() in v1 and "chirp:cb:*" in v1 and "chirp:fc:*" in v1 and keys.progress() in v1
    assert not any(p.startswith("chirp:v") or p == keys.everything() for p in v1)  # never another version's keys
    assert not set(registry_keys("chirp:")) & set(v1)  # the registry outlives versions


def test_each_location_is_written_once_the_live_pass_first() -> None:
    from projections.versions import passes

    vs = [Version("v1", "live", ""), Version("v2", "following", "", timelines="v1", keyspace="ks_v2"),
          Version("v3", "ready", "", keyspace=""), Version("v4", "building", "")]  # fmt: skip
    got = [(p.version.name, p.timelines, p.durable, p.primary) for p in passes(vs)]
    # v2 shares v1's timelines (its own keyspace); v3 shares v1's keyspace (its own timelines); v4 not written
    assert got == [("v1", True, True, True), ("v2", False, True, False), ("v3", True, False, False)]
    assert Version("v2", "ready", "", timelines="v1").prefix("c:") == "c:"
    assert Version("v2", "ready", "", timelines="v1").own_prefix("c:") == "c:v2:"


def test_a_retired_version_leaves_only_what_nobody_uses() -> None:
    from projections.versions import leftovers

    v1 = Version("v1", "retired", "")
    v2 = Version("v2", "live", "", timelines="v1", keyspace="ks_v2")  # projections rebuilt: timelines shared
    c, c_v2 = RedisKeys("c:"), RedisKeys(prefix_of("c:", "v2"))
    gone = leftovers("c:", v1, [v1, v2])
    assert gone.keyspace == ""  # the configured keyspace's projection tables (v2 has its own keyspace)
    assert c.timelines() not in gone.patterns and c.progress() in gone.patterns  # v2 still reads v1's timelines
    v3 = Version("v3", "live", "", keyspace="ks_v2")  # then timelines rebuilt: v1's prefix is free
    v2r = Version("v2", "retired", "", timelines="v1", keyspace="ks_v2")
    gone = leftovers("c:", v2r, [v1, v2r, v3])
    assert gone.keyspace is None and c.timelines() in gone.patterns and c_v2.progress() in gone.patterns
