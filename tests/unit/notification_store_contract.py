"""The notifications store's contract, run against the memory fake (unit) and Cassandra (integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from projections.notifications import (
    DropRef,
    DropRefRow,
    Insert,
    Mark,
    Notification,
    NotificationStore,
    Op,
    Remove,
    notification_id,
)

T = TypeVar("T")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def note(user: int, seconds: float, cause: str, kind: str = "like", tweet: int | None = 5) -> Notification:
    when = at(seconds)
    return Notification(user, notification_id(when, cause), kind, 99, tweet, when)


class NotificationStoreContract:
    """Subclasses provide `store()` (a fresh, empty store) and `user()` (an id no other test uses)."""

    def store(self) -> NotificationStore:
        raise NotImplementedError

    def user(self) -> int:
        raise NotImplementedError

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def test_page_is_newest_first_and_pages_by_id(self) -> None:
        s, u = self.store(), self.user()
        notes = [note(u, i * 60, f"c{i}") for i in range(5)]
        self.run(s.write([Insert(n, (), n.created_at) for n in notes]))
        first = self.run(s.page(u, None, 3))
        assert first == sorted(notes, key=lambda n: -n.notification_id)[:3]
        rest = self.run(s.page(u, first[-1].notification_id, 10))
        assert [n.notification_id for n in first + rest] == sorted((n.notification_id for n in notes), reverse=True)

    def test_pages_cross_30_day_buckets(self) -> None:
        s, u = self.store(), self.user()
        notes = [note(u, d * 86400, f"d{d}") for d in (0, 31, 65, 100)]
        self.run(s.write([Insert(n, (), n.created_at) for n in notes]))
        got = self.run(s.page(u, None, 10))
        assert [n.notification_id for n in got] == sorted((n.notification_id for n in notes), reverse=True)
        assert self.run(s.count_after(u, notes[1].notification_id, 100)) == 2

    def test_window_reads_between_two_ids_either_way(self) -> None:
        s, u = self.store(), self.user()
        notes = [note(u, d * 86400, f"w{d}") for d in (0, 1, 31, 32, 65)]  # three 30-day buckets
        self.run(s.write([Insert(n, (), n.created_at) for n in notes]))
        ids = [n.notification_id for n in notes]  # oldest first
        got = self.run(s.window(u, ids[4], ids[0], 2))
        assert [n.notification_id for n in got] == [ids[3], ids[2]]
        got = self.run(s.window(u, ids[4], ids[0], 2, oldest_first=True))
        assert [n.notification_id for n in got] == [ids[1], ids[2]]
        assert [n.notification_id for n in self.run(s.window(u, None, None, 10))] == ids[::-1]
        assert [n.notification_id for n in self.run(s.window(u, None, ids[2], 10, True))] == ids[3:]
        assert self.run(s.window(u, ids[1], ids[0], 10)) == []

    def test_writes_are_idempotent(self) -> None:
        s, u = self.store(), self.user()
        n = note(u, 1, "x")
        for _ in range(2):
            self.run(s.write([Insert(n, ("like:5:99",), n.created_at)]))
        assert self.run(s.page(u, None, 10)) == [n]
        assert self.run(s.refs(["like:5:99"])) == {"like:5:99": {(u, n.notification_id)}}

    def test_undo_shadows_only_what_was_written_before_it_in_any_order(self) -> None:
        s, u = self.store(), self.user()
        ref = f"like:5:{u}"
        liked, reliked = note(u, 1, "like-1"), note(u, 3, "like-3")
        undo: list[Op] = [Remove(u, liked.notification_id, at(2)), DropRef(ref, at(2))]
        self.run(s.write([Insert(reliked, (ref,), reliked.created_at)]))  # the re-like is written first
        self.run(s.write(undo))
        self.run(s.write([Insert(liked, (ref,), liked.created_at)]))  # then the first like (a replay of it)
        self.run(s.write(undo))
        assert self.run(s.page(u, None, 10)) == [reliked]
        assert self.run(s.refs([ref, "nothing"])) == {ref: {(u, reliked.notification_id)}}

    def test_one_row_of_a_ref_can_be_dropped(self) -> None:
        s, u = self.store(), self.user()
        ref = f"tweet:{u}"
        a, b = note(u, 1, "a"), note(u, 2, "b")
        self.run(s.write([Insert(a, (ref,), a.created_at), Insert(b, (ref,), b.created_at)]))
        self.run(s.write([DropRefRow(ref, u, a.notification_id, at(5))]))
        assert self.run(s.refs([ref])) == {ref: {(u, b.notification_id)}}

    def test_marker_only_moves_forward_and_counts_what_is_newer(self) -> None:
        s, u = self.store(), self.user()
        notes = [note(u, i, f"m{i}") for i in range(6)]
        self.run(s.write([Insert(n, (), n.created_at) for n in notes]))
        assert self.run(s.marker(u)) == 0
        assert self.run(s.count_after(u, 0, 100)) == 6
        assert self.run(s.count_after(u, 0, 4)) == 4  # capped
        high, low = notes[3].notification_id, notes[1].notification_id
        self.run(s.write([Mark(u, high, at(10))]))
        self.run(s.write([Mark(u, low, at(11))]))  # later, but lower: ignored
        self.run(s.write([Mark(u, low, at(9))]))  # earlier and lower (a replay): ignored
        assert self.run(s.marker(u)) == high
        assert self.run(s.count_after(u, high, 100)) == 2
