"""In-memory fake of the notifications store for unit tests, with Cassandra's write-timestamp rules:
a row is visible when its newest write is newer than every delete that covers it (a tie: the delete wins)."""

from __future__ import annotations

from collections.abc import Sequence

from projections.notifications import DropRef, DropRefRow, Insert, Mark, Notification, Op, Ref, Remove


def _ts(op: Insert | Remove | DropRef | DropRefRow | Mark) -> int:
    return int(op.at.timestamp() * 1_000_000)


class MemoryNotifications:
    def __init__(self) -> None:
        self.rows: dict[tuple[int, int], tuple[int, Notification]] = {}
        self.row_deletes: dict[tuple[int, int], int] = {}
        self.ref_rows: dict[tuple[str, int, int], int] = {}
        self.ref_row_deletes: dict[tuple[str, int, int], int] = {}
        self.ref_deletes: dict[str, int] = {}
        self.marks: dict[tuple[int, int], int] = {}
        self.mark_deletes: list[tuple[int, int, int]] = []  # (user, below, ts)

    async def refs(self, refs: Sequence[str]) -> dict[str, Ref]:
        out: dict[str, Ref] = {}
        for (ref, user, nid), ts in self.ref_rows.items():
            if ref in refs and ts > max(self.ref_deletes.get(ref, -1), self.ref_row_deletes.get((ref, user, nid), -1)):
                out.setdefault(ref, set()).add((user, nid))
        return out

    async def write(self, ops: Sequence[Op]) -> None:
        for op in ops:
            ts = _ts(op)
            match op:
                case Insert():
                    key = (op.n.user_id, op.n.notification_id)
                    if key not in self.rows or self.rows[key][0] <= ts:
                        self.rows[key] = (ts, op.n)
                    for ref in op.refs:
                        k = (ref, op.n.user_id, op.n.notification_id)
                        self.ref_rows[k] = max(ts, self.ref_rows.get(k, ts))
                case Remove():
                    key = (op.user_id, op.notification_id)
                    self.row_deletes[key] = max(ts, self.row_deletes.get(key, ts))
                case DropRef():
                    self.ref_deletes[op.ref] = max(ts, self.ref_deletes.get(op.ref, ts))
                case DropRefRow():
                    k = (op.ref, op.user_id, op.notification_id)
                    self.ref_row_deletes[k] = max(ts, self.ref_row_deletes.get(k, ts))
                case Mark():
                    key = (op.user_id, op.up_to)
                    self.marks[key] = max(ts, self.marks.get(key, ts))
                    self.mark_deletes.append((op.user_id, op.up_to, ts))

    def _visible(self, user_id: int) -> list[Notification]:
        rows = [
            n for (u, nid), (ts, n) in self.rows.items() if u == user_id and ts > self.row_deletes.get((u, nid), -1)
        ]
        return sorted(rows, key=lambda n: n.notification_id, reverse=True)

    async def page(self, user_id: int, before: int | None, limit: int) -> list[Notification]:
        return [n for n in self._visible(user_id) if before is None or n.notification_id < before][:limit]

    async def window(
        self, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool = False
    ) -> list[Notification]:
        rows = [
            n
            for n in self._visible(user_id)
            if (before is None or n.notification_id < before) and (after is None or n.notification_id > after)
        ]
        return (list(reversed(rows)) if oldest_first else rows)[:limit]

    async def marker(self, user_id: int) -> int:
        live = [
            up_to
            for (u, up_to), ts in self.marks.items()
            if u == user_id
            and not any(d_u == u and up_to < below and ts <= d_ts for d_u, below, d_ts in self.mark_deletes)
        ]
        return max(live, default=0)

    async def count_after(self, user_id: int, after: int, cap: int) -> int:
        return min(cap, sum(1 for n in self._visible(user_id) if n.notification_id > after))
