"""Write timestamps follow the log: append time first, then the offset within a millisecond."""

from __future__ import annotations

from projections.logclock import log_stamp


def test_stamps_grow_with_the_log_within_a_millisecond_and_across() -> None:
    same_ms = [log_stamp(1_700_000_000_000, offset) for offset in range(5000, 5010)]
    assert same_ms == sorted(same_ms) and len(set(same_ms)) == len(same_ms)
    assert log_stamp(1_700_000_000_001, 5000) > log_stamp(1_700_000_000_000, 5999 - 1000)


def test_a_record_applied_again_gets_the_same_stamp() -> None:
    assert log_stamp(1_700_000_000_123, 42) == log_stamp(1_700_000_000_123, 42) == 1_700_000_000_123_042
