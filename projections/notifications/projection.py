"""Notifications, the projection: who is told what for which event, as the worker writes it from the log.

Your own actions never notify you. Edits change neither mentions nor notifications (as on Twitter): the feed
shows the tweet's current text. Undo events remove what their do event wrote (see model.py for the ids and refs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from projections.notifications.model import (
    DropRef,
    DropRefRow,
    Insert,
    Mark,
    Notification,
    NotificationStore,
    Op,
    Ref,
    Remove,
    follow_ref,
    like_ref,
    notification_id,
    tweet_ref,
)
from projections.ports import Authors
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

NOTIFYING = (TweetPosted, TweetDeleted, TweetLiked, TweetUnliked, UserFollowed, UserUnfollowed, NotificationsRead)


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
