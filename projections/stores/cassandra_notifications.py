"""Cassandra: the notifications read model (tables in infra/migrations/0004_notifications.cql).

Every write carries its event's time (USING TIMESTAMP): a replayed or redelivered event rewrites the same
cells, and an undo's delete shadows exactly the rows written before it, whatever order they arrive in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session

from infra.cassandra import BATCHING, Batching, execute, execute_unordered
from projections.notifications import DropRef, DropRefRow, Insert, Mark, Notification, Op, Ref, Remove
from projections.stores.known import KNOWN_ROWS, KnownRows
from projections.timeline import bucket_of

MAX_ID = (1 << 63) - 1


def _ts(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


class CassandraNotifications:
    def __init__(self, session: Session, known_rows: int = KNOWN_ROWS, batching: Batching = BATCHING) -> None:
        self.s = session
        self.batching = batching
        p = session.prepare
        self._insert = p("INSERT INTO notifications (user_id, bucket, notification_id, kind, actor_id, tweet_id, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?")  # fmt: skip
        self._bucket = p("INSERT INTO notification_buckets (user_id, bucket) VALUES (?, ?)")
        self._ref = p(
            "INSERT INTO notification_refs (ref, user_id, notification_id) VALUES (?, ?, ?) USING TIMESTAMP ?"
        )
        self._remove = p("DELETE FROM notifications USING TIMESTAMP ? WHERE user_id = ? AND bucket = ? "
                         "AND notification_id = ?")  # fmt: skip
        self._drop_ref = p("DELETE FROM notification_refs USING TIMESTAMP ? WHERE ref = ?")
        self._drop_ref_row = p("DELETE FROM notification_refs USING TIMESTAMP ? WHERE ref = ? AND user_id = ? "
                               "AND notification_id = ?")  # fmt: skip
        self._mark = p("INSERT INTO notification_marks (user_id, up_to) VALUES (?, ?) USING TIMESTAMP ?")
        self._unmark = p("DELETE FROM notification_marks USING TIMESTAMP ? WHERE user_id = ? AND up_to < ?")
        self._get_ref = p("SELECT user_id, notification_id FROM notification_refs WHERE ref = ?")
        self._buckets_below = p("SELECT bucket FROM notification_buckets WHERE user_id = ? AND bucket <= ?")
        self._buckets_above = p("SELECT bucket FROM notification_buckets WHERE user_id = ? AND bucket >= ?")
        self._page = p("SELECT notification_id, kind, actor_id, tweet_id, created_at FROM notifications "
                       "WHERE user_id = ? AND bucket = ? AND notification_id < ? LIMIT ?")  # fmt: skip
        self._between = p("SELECT notification_id, kind, actor_id, tweet_id, created_at FROM notifications "
                          "WHERE user_id = ? AND bucket = ? AND notification_id < ? AND notification_id > ? "
                          "LIMIT ?")  # fmt: skip
        self._between_asc = p("SELECT notification_id, kind, actor_id, tweet_id, created_at FROM notifications "
                              "WHERE user_id = ? AND bucket = ? AND notification_id < ? AND notification_id > ? "
                              "ORDER BY notification_id ASC LIMIT ?")  # fmt: skip
        self._newer = p("SELECT notification_id FROM notifications WHERE user_id = ? AND bucket = ? "
                        "AND notification_id > ? LIMIT ?")  # fmt: skip
        self._marker = p("SELECT up_to FROM notification_marks WHERE user_id = ? LIMIT 1")
        self.known_buckets = KnownRows(known_rows)

    async def refs(self, refs: Sequence[str]) -> dict[str, Ref]:
        async def one(ref: str) -> tuple[str, Ref]:
            rows = await execute(self.s, self._get_ref, (ref,))
            return ref, {(r.user_id, r.notification_id) for r in rows}

        found = await asyncio.gather(*(one(r) for r in refs))
        return {ref: rows for ref, rows in found if rows}

    async def write(self, ops: Sequence[Op]) -> None:
        pending: list[tuple[Any, tuple[Any, ...]]] = []
        buckets: set[tuple[int, int]] = set()
        add = pending.append
        for op in ops:
            match op:
                case Insert(n=n, refs=refs):
                    ts, bucket = _ts(op.at), bucket_of(n.notification_id)
                    add((self._insert, (n.user_id, bucket, n.notification_id, n.kind, n.actor_id, n.tweet_id,
                                        n.created_at, ts)))  # fmt: skip
                    if (n.user_id, bucket) not in self.known_buckets:
                        add((self._bucket, (n.user_id, bucket)))
                        buckets.add((n.user_id, bucket))
                    for ref in refs:
                        add((self._ref, (ref, n.user_id, n.notification_id, ts)))
                case Remove():
                    add((self._remove, (_ts(op.at), op.user_id, bucket_of(op.notification_id), op.notification_id)))
                case DropRef():
                    add((self._drop_ref, (_ts(op.at), op.ref)))
                case DropRefRow():
                    add((self._drop_ref_row, (_ts(op.at), op.ref, op.user_id, op.notification_id)))
                case Mark():
                    add((self._mark, (op.user_id, op.up_to, _ts(op.at))))
                    add((self._unmark, (_ts(op.at), op.user_id, op.up_to)))
        await execute_unordered(self.s, pending, self.batching)
        self.known_buckets.remember(buckets)

    async def page(self, user_id: int, before: int | None, limit: int) -> list[Notification]:
        bound = before or MAX_ID
        out: list[Notification] = []
        for b in await execute(self.s, self._buckets_below, (user_id, bucket_of(bound))):
            if len(out) >= limit:
                break
            rows = await execute(self.s, self._page, (user_id, b.bucket, bound, limit - len(out)))
            out.extend(
                Notification(
                    user_id, r.notification_id, r.kind, r.actor_id, r.tweet_id, r.created_at.replace(tzinfo=UTC)
                )
                for r in rows
            )
        return out

    async def window(
        self, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool = False
    ) -> list[Notification]:
        high, low = before or MAX_ID, after or 0
        if high <= low + 1:
            return []
        found = await execute(self.s, self._buckets_below, (user_id, bucket_of(high)))
        buckets = [b.bucket for b in found if b.bucket >= bucket_of(low)]
        query = self._between_asc if oldest_first else self._between
        out: list[Notification] = []
        for bucket in sorted(buckets, reverse=not oldest_first):
            if len(out) >= limit:
                break
            rows = await execute(self.s, query, (user_id, bucket, high, low, limit - len(out)))
            out.extend(
                Notification(
                    user_id, r.notification_id, r.kind, r.actor_id, r.tweet_id, r.created_at.replace(tzinfo=UTC)
                )
                for r in rows
            )
        return out

    async def marker(self, user_id: int) -> int:
        rows = await execute(self.s, self._marker, (user_id,))
        return int(rows[0].up_to) if rows else 0

    async def count_after(self, user_id: int, after: int, cap: int) -> int:
        count = 0
        buckets = await execute(self.s, self._buckets_above, (user_id, bucket_of(after)))
        for b in sorted((r.bucket for r in buckets), reverse=True):
            if count >= cap:
                break
            rows = await execute(self.s, self._newer, (user_id, b, after, cap - count))
            count += len(rows)
        return min(count, cap)
