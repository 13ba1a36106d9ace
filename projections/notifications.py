"""Notifications: who is told what for which event, as a read model fed by the log; and the feed's read side.

Kinds: `mention` (a post names you as @handle), `reply` (someone replied to your tweet; a reply that also
names you is one `reply`), `like` (someone liked your tweet), `follow` (someone followed you). Your own
actions never notify you. Edits change neither mentions nor notifications (as on Twitter): the feed shows
the tweet's current text.

Every notification has a deterministic, time-sortable id: the event's millisecond (Snowflake layout) and
22 bits hashed from what caused it (kind, tweet or follower, recipient), so a replayed or redelivered
event rewrites the same row. Undo finds the rows through refs (`like:<tweet>:<user>`,
`follow:<follower>:<followee>`, `tweet:<tweet>`) and deletes them stamped with the undo's time, which
shadows exactly what was written before it: a like after an unlike survives a replay of that unlike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from projections.model import TweetView, UserView
from projections.ports import Authors
from projections.wire import author_json, tweet_json
from schemas.events import (
    Event,
    NotificationsRead,
    TweetDeleted,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserUnfollowed,
)
from schemas.ids import EPOCH_MS, NODE_BITS, SEQ_BITS

KINDS = ("mention", "reply", "like", "follow")
LOW_BITS = NODE_BITS + SEQ_BITS
LOW_MASK = (1 << LOW_BITS) - 1
NOTIFYING = (TweetPosted, TweetDeleted, TweetLiked, TweetUnliked, UserFollowed, UserUnfollowed, NotificationsRead)
UNREAD_CAP = 1000  # the unread count is exact up to this; more reads as this number


MAX_MENTIONS = 50
_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_@])")


def mentioned_handles(text: str) -> list[str]:
    """The @handles a text names, lower-cased, first appearance first, at most MAX_MENTIONS.
    `x@host` (an e-mail address) and `@toolong...` (more than a handle can hold) are not mentions."""
    seen: dict[str, None] = {}
    for m in _MENTION.finditer(text):
        seen.setdefault(m.group(1).lower(), None)
        if len(seen) >= MAX_MENTIONS:
            break
    return list(seen)


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
    """The notifications read model (Cassandra; a memory fake for tests)."""

    async def refs(self, refs: Sequence[str]) -> dict[str, Ref]: ...
    async def write(self, ops: Sequence[Op]) -> None:
        """Applies the changes; each is idempotent and stamped with its event time, so order is free."""
        ...

    async def page(self, user_id: int, before: int | None, limit: int) -> list[Notification]:
        """Newest first, ids below `before`."""
        ...

    async def marker(self, user_id: int) -> int:
        """The largest `up_to` marked (0: nothing read)."""
        ...

    async def count_after(self, user_id: int, after: int, cap: int) -> int:
        """How many notifications have an id above `after`, counting at most `cap`."""
        ...


class TweetAuthors(Protocol):
    async def live_authors(self, tweet_ids: Sequence[int]) -> dict[int, int]:
        """Authors of the tweets that exist and are not deleted."""
        ...


class Publisher(Protocol):
    async def publish(self, notifications: Sequence[Notification]) -> None:
        """Pushes fresh notifications to recipients with a live connection (best effort)."""
        ...


class NotificationsProjection:
    """The read model the worker builds (a `Projection`); `publisher` only on the live version's pass."""

    def __init__(self, store: NotificationStore, tweets: TweetAuthors, publisher: Publisher | None = None) -> None:
        self.store = store
        self.tweets = tweets
        self.publisher = publisher

    def writes(self) -> NotificationWrites:
        return NotificationWrites(self)


@dataclass
class NotificationWrites:
    p: NotificationsProjection
    queued: list[Event] = field(default_factory=list)
    known: dict[int, int] = field(default_factory=dict)  # tweet -> author, from the batch itself

    def apply(self, event: Event, authors: Authors) -> None:
        if isinstance(event, NOTIFYING):
            self.queued.append(event)
        if isinstance(event, TweetPosted) and event.reply_to is not None and event.reply_to in authors:
            self.known[event.reply_to] = authors[event.reply_to][0]

    async def flush(self) -> None:
        events, self.queued = self.queued, []
        if not events:
            return
        authors = await self._authors(events)
        refs = await self.p.store.refs(sorted(_undo_refs(events)))
        ops = plan(events, authors, refs)
        await self.p.store.write(ops)
        if self.p.publisher is not None:
            fresh = _surviving(ops)
            if fresh:
                await self.p.publisher.publish(fresh)

    async def _authors(self, events: Sequence[Event]) -> dict[int, int]:
        """Authors of the tweets replied to or liked: the batch's own posts first, then the stores."""
        known = dict(self.known)
        for e in events:
            if isinstance(e, TweetPosted):
                known[e.tweet_id] = e.author_id
        wanted = {e.reply_to for e in events if isinstance(e, TweetPosted) and e.reply_to is not None}
        wanted |= {e.tweet_id for e in events if isinstance(e, TweetLiked)}
        missing = sorted(wanted - known.keys())
        if missing:
            known.update(await self.p.tweets.live_authors(missing))
        return known


def _undo_refs(events: Sequence[Event]) -> set[str]:
    out: set[str] = set()
    for e in events:
        match e:
            case TweetUnliked():
                out.add(like_ref(e.tweet_id, e.user_id))
            case UserUnfollowed():
                out.add(follow_ref(e.follower_id, e.followee_id))
            case TweetDeleted():
                out.add(tweet_ref(e.tweet_id))
    return out


def plan(events: Sequence[Event], authors: dict[int, int], stored: dict[str, Ref]) -> list[Op]:
    """The changes a batch makes, in order. Pure: `authors` (tweet -> author, live tweets only) and `stored`
    (the refs undo events need) were read before; refs are kept current as the batch goes."""
    refs: dict[str, Ref] = {k: set(v) for k, v in stored.items()}
    ops: list[Op] = []

    def insert(n: Notification, *names: str) -> None:
        ops.append(Insert(n, names, at))
        for name in names:
            refs.setdefault(name, set()).add((n.user_id, n.notification_id))

    for e in events:
        at = e.meta.occurred_at
        ms = at.replace(microsecond=at.microsecond // 1000 * 1000)
        match e:
            case TweetPosted():
                parent = authors.get(e.reply_to) if e.reply_to is not None else None
                told: set[int] = {e.author_id}
                if parent is not None and parent not in told:
                    told.add(parent)
                    nid = notification_id(at, f"reply:{e.tweet_id}:{parent}")
                    insert(Notification(parent, nid, "reply", e.author_id, e.tweet_id, ms), tweet_ref(e.tweet_id))
                for user in e.mentions:
                    if user not in told:
                        told.add(user)
                        nid = notification_id(at, f"mention:{e.tweet_id}:{user}")
                        insert(Notification(user, nid, "mention", e.author_id, e.tweet_id, ms), tweet_ref(e.tweet_id))
            case TweetDeleted():
                ref = tweet_ref(e.tweet_id)
                for user, nid in sorted(refs.pop(ref, set())):
                    ops.append(Remove(user, nid, at))
                ops.append(DropRef(ref, at))
            case TweetLiked():
                author = authors.get(e.tweet_id)
                if author is not None and author != e.user_id:
                    nid = notification_id(at, f"like:{e.tweet_id}:{e.user_id}")
                    n = Notification(author, nid, "like", e.user_id, e.tweet_id, ms)
                    insert(n, like_ref(e.tweet_id, e.user_id), tweet_ref(e.tweet_id))
            case TweetUnliked():
                ref = like_ref(e.tweet_id, e.user_id)
                for user, nid in sorted(refs.pop(ref, set())):
                    ops.append(Remove(user, nid, at))
                    ops.append(DropRefRow(tweet_ref(e.tweet_id), user, nid, at))
                    refs.get(tweet_ref(e.tweet_id), set()).discard((user, nid))
                ops.append(DropRef(ref, at))
            case UserFollowed():
                if e.follower_id != e.followee_id:
                    nid = notification_id(at, f"follow:{e.follower_id}:{e.followee_id}")
                    n = Notification(e.followee_id, nid, "follow", e.follower_id, None, ms)
                    insert(n, follow_ref(e.follower_id, e.followee_id))
            case UserUnfollowed():
                ref = follow_ref(e.follower_id, e.followee_id)
                for user, nid in sorted(refs.pop(ref, set())):
                    ops.append(Remove(user, nid, at))
                ops.append(DropRef(ref, at))
            case NotificationsRead():
                ops.append(Mark(e.user_id, e.up_to, at))
    return ops


def _surviving(ops: Sequence[Op]) -> list[Notification]:
    """The notifications a batch inserted and did not take back within itself."""
    removed = {(o.user_id, o.notification_id) for o in ops if isinstance(o, Remove)}
    out = {(o.n.user_id, o.n.notification_id): o.n for o in ops if isinstance(o, Insert)}
    return [n for k, n in out.items() if k not in removed]


# The read side -------------------------------------------------------------------------------------------


class Hydrator(Protocol):
    """The timeline's read side (projections.queries.Queries): tweets and users as GET /timeline shows them."""

    async def hydrate(self, pairs: Sequence[tuple[int, int]]) -> list[TweetView]: ...
    async def users(self, ids: Sequence[int]) -> list[UserView]: ...


class PendingMarks(Protocol):
    """Read markers the API accepted and the worker may not have projected yet (read-your-writes)."""

    async def get(self, user_id: int) -> int: ...
    async def set(self, user_id: int, up_to: int) -> None: ...


@dataclass(frozen=True)
class FeedPage:
    items: list[dict[str, Any]]
    next_before: int | None
    unread_count: int


class NotificationFeed:
    """GET /notifications and what the worker pushes: one rendering for both."""

    def __init__(self, store: NotificationStore, hydrator: Hydrator, pending: PendingMarks | None = None) -> None:
        self.store = store
        self.hydrator = hydrator
        self.pending = pending

    async def marker(self, user_id: int) -> int:
        stored = await self.store.marker(user_id)
        return max(stored, await self.pending.get(user_id)) if self.pending else stored

    async def unread_count(self, user_id: int, marker: int | None = None) -> int:
        after = await self.marker(user_id) if marker is None else marker
        return await self.store.count_after(user_id, after, UNREAD_CAP)

    async def page(self, user_id: int, before: int | None, limit: int, types: frozenset[str] | None = None) -> FeedPage:
        """A page newest first. Rows whose tweet is gone (deleted; a like that raced its tweet's delete)
        are left out, so a page may hold fewer than `limit`; `next_before` says whether more follow."""
        marker = await self.marker(user_id)
        rows = await self.store.page(user_id, before, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        shown = [n for n in rows if types is None or n.kind in types]
        items = await self.render(shown, marker)
        unread = await self.unread_count(user_id, marker)
        return FeedPage(items, rows[-1].notification_id if more and rows else None, unread)

    async def render(self, rows: Sequence[Notification], marker: int) -> list[dict[str, Any]]:
        """Each notification as GET /notifications shows it; those whose tweet or actor is gone are left out."""
        # The tweet's author: the actor of a mention or reply, the recipient of a like.
        pairs = {n.tweet_id: n.user_id if n.kind == "like" else n.actor_id for n in rows if n.tweet_id is not None}
        views = await self.hydrator.hydrate(sorted(pairs.items())) if pairs else []
        tweets = {v.tweet_id: v for v in views if not v.deleted}
        actors = {u.user_id: u for u in await self.hydrator.users(sorted({n.actor_id for n in rows}))}
        out: list[dict[str, Any]] = []
        for n in rows:
            tweet = tweets.get(n.tweet_id) if n.tweet_id is not None else None
            if (n.tweet_id is not None and tweet is None) or n.actor_id not in actors:
                continue
            out.append(notification_json(n, actors[n.actor_id], tweet, n.notification_id <= marker))
        return out


def notification_json(n: Notification, actor: UserView, tweet: TweetView | None, read: bool) -> dict[str, Any]:
    """A `NotificationOut` (Mastodon's notification entity, in chirp's field names)."""
    return {
        "id": str(n.notification_id),
        "type": n.kind,
        "created_at": n.created_at,
        "account": author_json(actor),
        "tweet": tweet_json(tweet) if tweet is not None else None,
        "read": read,
    }
