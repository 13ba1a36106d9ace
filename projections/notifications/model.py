"""Notifications, the model: what a notification is, its deterministic id, the refs undo finds rows by,
the changes a batch makes to the read model, and the store those changes are written to.

Kinds: `mention` (a post names you as @handle), `reply` (someone replied to your tweet; a reply that also
names you is one `reply`), `like` (someone liked your tweet), `follow` (someone followed you).

Every notification has a deterministic, time-sortable id: the event's millisecond (Snowflake layout) and
22 bits hashed from what caused it (kind, tweet or follower, recipient), so a replayed or redelivered
event rewrites the same row. Undo finds the rows through refs (`like:<tweet>:<user>`,
`follow:<follower>:<followee>`, `tweet:<tweet>`) and deletes them stamped with the undo's time, which
shadows exactly what was written before it: a like after an unlike survives a replay of that unlike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.ids import EPOCH_MS, NODE_BITS, SEQ_BITS

KINDS = ("mention", "reply", "like", "follow")
LOW_BITS = NODE_BITS + SEQ_BITS
LOW_MASK = (1 << LOW_BITS) - 1


def notification_id(at: datetime, cause: str) -> int:
    """Time-sortable and deterministic: the event's millisecond, then 22 bits of a hash of the cause."""
    ms = int(at.timestamp() * 1000) - EPOCH_MS
    low = int.from_bytes(hashlib.blake2b(cause.encode(), digest_size=4).digest(), "big") & LOW_MASK
    return (max(ms, 0) << LOW_BITS) | low


def now_id(now_ms: int) -> int:
    """The largest id of the millisecond `now_ms`: 'everything up to now' for a read marker."""
    return ((now_ms - EPOCH_MS) << LOW_BITS) | LOW_MASK


def like_ref(tweet_id: int, user_id: int) -> str:
    return f"like:{tweet_id}:{user_id}"


def follow_ref(follower: int, followee: int) -> str:
    return f"follow:{follower}:{followee}"


def tweet_ref(tweet_id: int) -> str:
    return f"tweet:{tweet_id}"


@dataclass(frozen=True, slots=True)
class Notification:
    user_id: int  # the recipient
    notification_id: int
    kind: str
    actor_id: int
    tweet_id: int | None
    created_at: datetime


# Changes, in the order the events asked for them; `at` is the event time (Cassandra's write timestamp).
@dataclass(frozen=True, slots=True)
class Insert:
    n: Notification
    refs: tuple[str, ...]
    at: datetime  # the event time, to the microsecond (n.created_at is to the millisecond, as Cassandra keeps it)


@dataclass(frozen=True, slots=True)
class Remove:
    user_id: int
    notification_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class DropRef:
    """Deletes a whole ref (its rows written before `at`)."""

    ref: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DropRefRow:
    ref: str
    user_id: int
    notification_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Mark:
    user_id: int
    up_to: int
    at: datetime


Op = Insert | Remove | DropRef | DropRefRow | Mark
Ref = set[tuple[int, int]]  # (recipient, notification id)


class NotificationStore(Protocol):
    """The notifications read model (Cassandra; tests/fakes/notifications.py for unit tests)."""

    async def refs(self, refs: Sequence[str]) -> dict[str, Ref]: ...
    async def write(self, ops: Sequence[Op]) -> None:
        """Applies the changes; each is idempotent and stamped with its event time, so order is free."""
        ...

    async def page(self, user_id: int, before: int | None, limit: int) -> list[Notification]:
        """Newest first, ids below `before`."""
        ...

    async def window(
        self, user_id: int, before: int | None, after: int | None, limit: int, oldest_first: bool = False
    ) -> list[Notification]:
        """Ids strictly between `after` and `before`: the newest `limit` of them, newest first; or with
        `oldest_first` the `limit` just above `after`, oldest first (Mastodon's min_id)."""
        ...

    async def marker(self, user_id: int) -> int:
        """The largest `up_to` marked (0: nothing read)."""
        ...

    async def count_after(self, user_id: int, after: int, cap: int) -> int:
        """How many notifications have an id above `after`, counting at most `cap`."""
        ...
