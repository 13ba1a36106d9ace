"""The worker's time alignment of partitions (streams/align.py), with a fake clock and fake backlogs."""

from __future__ import annotations

from dataclasses import dataclass

from streams.align import Aligner, Partition


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: float


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recs(partition: int, first_offset: int, *stamps: float) -> list[Rec]:
    return [Rec("t", partition, first_offset + i, ts) for i, ts in enumerate(stamps)]


def backlog_of(ends: dict[int, int]):  # type: ignore[no-untyped-def]
    """A backlog function from each partition's end offset."""

    def backlog(p: Partition, next_offset: int) -> int:
        return max(ends.get(p[1], 0) - next_offset, 0)

    return backlog


def test_caught_up_partitions_release_everything_in_time_order() -> None:
    a = Aligner(max_held=100, max_wait_s=1.0, clock=Clock())
    a.add(recs(0, 0, 1.0, 3.0, 5.0) + recs(1, 0, 2.0, 4.0))
    out = a.release(backlog_of({0: 3, 1: 2}))
    assert [r.timestamp for r in out] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert a.held == 0 and a.first_held() == {}


def test_a_partition_with_a_backlog_holds_back_what_is_newer_than_it() -> None:
    a = Aligner(max_held=100, max_wait_s=1.0, clock=Clock())
    # partition 1 holds many tweets, so an equal share of records reaches less far in time
    a.add(recs(0, 0, 1.0, 5.0, 9.0) + recs(1, 0, 2.0, 3.0, 4.0))
    out = a.release(backlog_of({0: 3, 1: 10}))
    assert [(r.partition, r.timestamp) for r in out] == [(0, 1.0), (1, 2.0), (1, 3.0), (1, 4.0)]
    assert a.held == 2 and a.first_held() == {("t", 0): 1}
    a.add(recs(1, 3, 6.0, 10.0))
    out = a.release(backlog_of({0: 3, 1: 5}))  # partition 1 is read to its end: nothing bounds the rest
    assert [(r.partition, r.offset) for r in out] == [(0, 1), (1, 3), (0, 2), (1, 4)]
    assert a.held == 0


def test_a_partition_that_goes_quiet_stops_holding_the_others() -> None:
    clock = Clock()
    a = Aligner(max_held=100, max_wait_s=1.0, clock=clock)
    a.add(recs(0, 0, 5.0, 6.0) + recs(1, 0, 1.0))
    assert [r.timestamp for r in a.release(backlog_of({0: 2, 1: 50}))] == [1.0]
    clock.now += 0.6
    a.add(recs(1, 1, 2.0))  # partition 1 keeps delivering: however long it takes, the rest waits for it
    clock.now += 0.6
    assert [r.timestamp for r in a.release(backlog_of({0: 2, 1: 50}))] == [2.0]
    clock.now += 1.1  # then nothing from it for longer than max_wait_s
    assert [r.timestamp for r in a.release(backlog_of({0: 2, 1: 50}))] == [5.0, 6.0]


def test_no_more_than_max_held_records_wait() -> None:
    a = Aligner(max_held=2, max_wait_s=10.0, clock=Clock())
    a.add(recs(0, 0, 5.0, 6.0, 7.0, 8.0) + recs(1, 0, 1.0))
    out = a.release(backlog_of({0: 4, 1: 50}))
    assert [r.timestamp for r in out] == [1.0, 5.0, 6.0]  # the oldest go first
    assert a.held == 2 and a.first_held() == {("t", 0): 2}


def test_a_partition_keeps_its_offset_order_when_its_clock_steps_back() -> None:
    a = Aligner(max_held=100, max_wait_s=1.0, clock=Clock())
    a.add(recs(0, 0, 3.0, 1.0) + recs(1, 0, 2.0))
    out = a.release(backlog_of({}))
    assert [(r.partition, r.offset) for r in out] == [(1, 0), (0, 0), (0, 1)]


def test_holding_off_releases_at_once_and_retaining_no_partition_forgets() -> None:
    a = Aligner(max_held=100, max_wait_s=0, clock=Clock())
    a.add(recs(0, 0, 5.0) + recs(1, 0, 1.0))
    assert len(a.release(backlog_of({1: 9}))) == 2
    b = Aligner(max_held=100, max_wait_s=1.0, clock=Clock())
    b.add(recs(0, 0, 5.0) + recs(1, 0, 1.0))
    b.release(backlog_of({1: 9}))
    assert b.held == 1
    b.retain([])
    assert b.held == 0 and b.queues == {}


def test_records_of_one_log_stamp_are_aligned_by_their_events_time() -> None:
    """LogAppendTime gives a whole producer batch one stamp; the worker aligns on the events' own time, so two
    partitions' batches stamped alike still come out interleaved as they were written."""
    from datetime import UTC, datetime, timedelta

    from schemas.events import Meta, TweetPosted
    from streams.agents import Fetched

    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def fetched(partition: int, offset: int, ms: int) -> Fetched:
        event = TweetPosted(Meta(f"e{partition}{offset}", t0 + timedelta(milliseconds=ms), 1), ms, 1, "x")
        return Fetched(Rec("t", partition, offset, 500.0), event)

    a = Aligner(max_held=100, max_wait_s=1.0, clock=Clock())
    a.add([fetched(0, 0, 1), fetched(0, 1, 3), fetched(1, 0, 2), fetched(1, 1, 4)])
    out = a.release(backlog_of({}))
    assert [f.event.tweet_id for f in out if f.event] == [1, 2, 3, 4]
    poison = Fetched(Rec("t", 0, 2, 500.0), None, "undecodable")
    assert poison.timestamp == 500.0 and poison.offset == 2


def test_after_a_rebalance_the_held_records_of_partitions_still_owned_are_kept_and_not_queued_twice() -> None:
    """A partition kept through a rebalance is not read again unless Kafka has a commit to seek back to: its held
    records stay; one that moved away is forgotten (its new owner reads it); a partition read again from an
    earlier offset adds nothing it already queued."""
    a = Aligner(max_held=100, max_wait_s=1.0, clock=Clock())
    a.add(recs(0, 0, 5.0) + recs(1, 0, 1.0) + recs(2, 0, 6.0))
    assert [r.timestamp for r in a.release(backlog_of({1: 9}))] == [1.0]
    assert a.held == 2 and a.first_held() == {("t", 0): 0, ("t", 2): 0}
    a.retain([("t", 0), ("t", 1)])  # partition 2 moved to another worker
    assert a.held == 1 and a.first_held() == {("t", 0): 0}
    a.add(recs(1, 0, 1.0, 2.0) + recs(0, 0, 5.0, 7.0))  # read again from offset 0 after a seek to a commit
    out = a.release(backlog_of({}))
    assert [(r.partition, r.offset) for r in out] == [(1, 1), (0, 0), (0, 1)]
    assert a.held == 0
