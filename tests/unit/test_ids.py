from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ids import EPOCH_MS, LARGEST_CLIENT_ID, MAX_ID, IdGenerator, IdsUnavailable, id_time, parse_id


def test_ids_increase_and_are_unique() -> None:
    gen = IdGenerator(7)
    ids = [gen.next_id() for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(0 < i <= MAX_ID for i in ids)


def test_ids_survive_a_clock_going_backwards() -> None:
    now = [EPOCH_MS + 10_000]
    gen = IdGenerator(1, clock_ms=lambda: now[0])
    a = gen.next_id()
    now[0] -= 5_000
    b = gen.next_id()
    assert b > a


def test_sequence_overflow_borrows_the_next_millisecond() -> None:
    gen = IdGenerator(1, clock_ms=lambda: EPOCH_MS + 1)
    ids = [gen.next_id() for _ in range(5000)]
    assert len(set(ids)) == 5000 and ids == sorted(ids)


def test_nodes_do_not_collide_and_time_is_encoded() -> None:
    clock = lambda: EPOCH_MS + 123_456  # noqa: E731
    a, b = IdGenerator(1, clock_ms=clock).next_id(), IdGenerator(2, clock_ms=clock).next_id()
    assert a != b
    assert id_time(a) == datetime.fromtimestamp((EPOCH_MS + 123_456) / 1000, tz=UTC)


@pytest.mark.parametrize("node", [-1, 1024])
def test_node_id_range(node: int) -> None:
    with pytest.raises(ValueError):
        IdGenerator(node)


@pytest.mark.parametrize("text", ["1", "42", str(LARGEST_CLIENT_ID), "999999999999999999"])
def test_parse_id_accepts(text: str) -> None:
    assert parse_id(text) == int(text)


@pytest.mark.parametrize("text", ["", "0", "-1", "01", "abc", "1.5", " 1", str(MAX_ID + 1), "9" * 20])
def test_parse_id_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_id(text)


def test_no_id_is_made_past_the_lease_and_a_renewal_resumes() -> None:
    now = [EPOCH_MS + 1_000]
    gen = IdGenerator(3, clock_ms=lambda: now[0], until_ms=EPOCH_MS + 1_500)
    gen.next_id()
    now[0] += 501
    with pytest.raises(IdsUnavailable):
        gen.next_id()
    gen.until_ms = now[0] + 1_000  # renewed
    assert gen.next_id() > 0


@settings(max_examples=200, deadline=None)
@given(st.integers(-60_000, 60_000), st.integers(1, 3000), st.integers(1, 3000))
def test_two_holders_of_one_node_never_share_an_id_whatever_their_clocks(skew: int, first: int, second: int) -> None:
    """The first holder makes ids until its lease's end (by its own clock); the next starts above that end
    (the floor the lease keeps), with its clock `skew` ms away from the first's."""
    start = EPOCH_MS + 100_000
    now = [start]
    until = start + 1_000
    old = IdGenerator(9, clock_ms=lambda: now[0], until_ms=until)
    made = set()
    for _ in range(first):
        try:
            made.add(old.next_id())
        except IdsUnavailable:
            break
        now[0] += 1 if len(made) % 7 == 0 else 0
    later = [start + skew]
    new = IdGenerator(9, clock_ms=lambda: later[0], floor_ms=until, until_ms=until + 10_000_000)
    for _ in range(second):
        i = new.next_id()
        assert i not in made and i > max(made)
        later[0] += 1 if i % 5 == 0 else 0
