from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.ids import EPOCH_MS, LARGEST_CLIENT_ID, MAX_ID, IdGenerator, id_time, parse_id


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
