"""The bench compacts Redis's append-only file between measurements when Redis itself would soon do it."""

from __future__ import annotations

from typing import Any

from bench.stats import rewrite_aof_if_due


class FakeRedis:
    def __init__(self, base: int, size: int, enabled: int = 1, pct: int = 100, min_size: int = 1000) -> None:
        self.persistence: dict[str, Any] = {
            "aof_enabled": enabled,
            "aof_base_size": base,
            "aof_current_size": size,
            "aof_rewrite_in_progress": 0,
            "aof_rewrite_scheduled": 0,
        }
        self.config = {"auto-aof-rewrite-percentage": str(pct), "auto-aof-rewrite-min-size": str(min_size)}
        self.rewrites = 0
        self.polls_while_rewriting = 0

    def info(self, section: str) -> dict[str, Any]:
        assert section == "persistence"
        if self.persistence["aof_rewrite_in_progress"]:
            self.polls_while_rewriting += 1
            if self.polls_while_rewriting == 3:  # the child finishes after a few polls
                self.persistence.update(aof_rewrite_in_progress=0, aof_base_size=self.persistence["aof_current_size"])
        return dict(self.persistence)

    def config_get(self, pattern: str) -> dict[str, str]:
        assert pattern == "auto-aof-rewrite-*"
        return dict(self.config)

    def bgrewriteaof(self) -> None:
        self.rewrites += 1
        self.persistence["aof_rewrite_in_progress"] = 1


def test_a_file_short_of_halfway_to_redis_own_rewrite_is_left_alone() -> None:
    r = FakeRedis(base=10_000, size=14_999)  # Redis would rewrite at 20,000 (100% growth)
    assert not rewrite_aof_if_due(r) and r.rewrites == 0  # type: ignore[arg-type]


def test_past_halfway_it_is_rewritten_now_and_the_call_waits_for_the_child() -> None:
    r = FakeRedis(base=10_000, size=15_000)
    assert rewrite_aof_if_due(r) and r.rewrites == 1  # type: ignore[arg-type]
    assert r.persistence["aof_rewrite_in_progress"] == 0 and r.polls_while_rewriting == 3


def test_the_minimum_size_counts_and_no_aof_means_nothing_to_do() -> None:
    small = FakeRedis(base=0, size=400, min_size=1000)  # Redis would wait for 1,000 bytes
    assert not rewrite_aof_if_due(small)  # type: ignore[arg-type]
    off = FakeRedis(base=0, size=10**9, enabled=0)
    assert not rewrite_aof_if_due(off) and off.rewrites == 0  # type: ignore[arg-type]
