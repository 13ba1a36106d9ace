"""Notifications, the feed: the read side, as GET /notifications shows it and the worker pushes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from projections.model import TweetView, UserView
from projections.notifications.model import Notification, NotificationStore
from projections.wire import author_json, tweet_json

UNREAD_CAP = 1000  # the unread count is exact up to this; more reads as this number


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
