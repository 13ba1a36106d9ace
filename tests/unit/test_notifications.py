"""Notifications: who is told what for which event, undo, ids, the feed's rendering; the memory store's contract."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.model import TweetView, UserView
from projections.notifications import (
    UNREAD_CAP,
    Notification,
    NotificationFeed,
    NotificationsProjection,
    notification_id,
    now_id,
)
from projections.text import mentioned_handles
from schemas.events import (
    Event,
    Meta,
    NotificationsRead,
    TweetDeleted,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserUnfollowed,
)
from schemas.ids import EPOCH_MS
from tests.fakes.notifications import MemoryNotifications
from tests.unit.notification_store_contract import NotificationStoreContract

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = 1, 2, 3
_ids = itertools.count(1000)
_users = itertools.count(10_000)


class TestMemoryStore(NotificationStoreContract):
    def store(self) -> MemoryNotifications:
        return MemoryNotifications()

    def user(self) -> int:
        return next(_users)


class Tweets:
    """Live tweets and their authors (the Redis/Cassandra lookup)."""

    def __init__(self) -> None:
        self.authors: dict[int, int] = {}

    async def live_authors(self, tweet_ids: Sequence[int]) -> dict[int, int]:
        return {t: self.authors[t] for t in tweet_ids if t in self.authors}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def publish(self, notifications: Sequence[Notification]) -> None:
        self.sent.extend(notifications)


class World:
    def __init__(self) -> None:
        self.store = MemoryNotifications()
        self.tweets = Tweets()
        self.pushed = Recorder()
        self.projection = NotificationsProjection(self.store, self.tweets, self.pushed)
        self.clock = 0

    def meta(self, actor: int) -> Meta:
        self.clock += 1
        return Meta(f"e{self.clock}", T0 + timedelta(seconds=self.clock), actor)

    def apply(self, *events: Event) -> None:
        w = self.projection.writes()
        for e in events:
            w.apply(e, {})
            if isinstance(e, TweetPosted):
                self.tweets.authors[e.tweet_id] = e.author_id
            if isinstance(e, TweetDeleted):
                self.tweets.authors.pop(e.tweet_id, None)
        asyncio.run(w.flush())

    def post(self, author: int, reply_to: int | None = None, mentions: tuple[int, ...] = ()) -> TweetPosted:
        return TweetPosted(self.meta(author), next(_ids), author, "text", reply_to, (), mentions)

    def feed(self, user: int) -> list[tuple[str, int, int | None]]:
        rows = asyncio.run(self.store.page(user, None, 100))
        return [(n.kind, n.actor_id, n.tweet_id) for n in rows]


def test_each_kind_notifies_its_recipient_and_never_the_actor() -> None:
    w = World()
    original = w.post(ALICE, mentions=(ALICE, BOB))  # naming yourself does nothing
    w.apply(original)
    reply = w.post(BOB, reply_to=original.tweet_id, mentions=(ALICE, CAROL))  # reply + mention of ALICE: one
    w.apply(reply)
    w.apply(TweetLiked(w.meta(CAROL), original.tweet_id, CAROL), TweetLiked(w.meta(ALICE), original.tweet_id, ALICE))
    w.apply(UserFollowed(w.meta(BOB), BOB, ALICE))
    assert w.feed(ALICE) == [
        ("follow", BOB, None),
        ("like", CAROL, original.tweet_id),
        ("reply", BOB, reply.tweet_id),
    ]
    assert w.feed(BOB) == [("mention", ALICE, original.tweet_id)]
    assert w.feed(CAROL) == [("mention", BOB, reply.tweet_id)]
    assert len(w.pushed.sent) == 5


def test_self_reply_self_like_and_likes_of_deleted_or_unknown_tweets_notify_nobody() -> None:
    w = World()
    t = w.post(ALICE)
    w.apply(t)
    w.apply(w.post(ALICE, reply_to=t.tweet_id), TweetLiked(w.meta(ALICE), t.tweet_id, ALICE))
    w.apply(TweetLiked(w.meta(BOB), 424242, BOB))  # unknown tweet
    w.apply(TweetDeleted(w.meta(ALICE), t.tweet_id, ALICE))
    w.apply(TweetLiked(w.meta(BOB), t.tweet_id, BOB))  # raced the delete
    assert w.feed(ALICE) == []


def test_undo_removes_exactly_its_notification_and_is_idempotent() -> None:
    w = World()
    t = w.post(ALICE)
    w.apply(t)
    like, unlike = TweetLiked(w.meta(BOB), t.tweet_id, BOB), TweetUnliked(w.meta(BOB), t.tweet_id, BOB)
    follow, unfollow = UserFollowed(w.meta(BOB), BOB, ALICE), UserUnfollowed(w.meta(BOB), BOB, ALICE)
    w.apply(like, follow, TweetLiked(w.meta(CAROL), t.tweet_id, CAROL))
    w.apply(unlike, unfollow)
    assert w.feed(ALICE) == [("like", CAROL, t.tweet_id)]
    w.apply(like, unlike, follow, unfollow)  # redelivered
    assert w.feed(ALICE) == [("like", CAROL, t.tweet_id)]
    relike = TweetLiked(w.meta(BOB), t.tweet_id, BOB)
    w.apply(relike)
    w.apply(like, unlike)  # a replay of the older pair leaves the newer like alone
    assert w.feed(ALICE) == [("like", BOB, t.tweet_id), ("like", CAROL, t.tweet_id)]


def test_like_and_unlike_in_one_batch_push_nothing() -> None:
    w = World()
    t = w.post(ALICE)
    w.apply(t)
    w.pushed.sent.clear()
    w.apply(TweetLiked(w.meta(BOB), t.tweet_id, BOB), TweetUnliked(w.meta(BOB), t.tweet_id, BOB))
    assert w.feed(ALICE) == [] and w.pushed.sent == []


def test_deleting_a_tweet_removes_the_notifications_it_caused() -> None:
    w = World()
    t = w.post(ALICE)
    w.apply(t)
    reply = w.post(BOB, reply_to=t.tweet_id, mentions=(CAROL,))
    w.apply(reply, TweetLiked(w.meta(ALICE), reply.tweet_id, ALICE))
    assert w.feed(ALICE) and w.feed(CAROL) and w.feed(BOB)
    w.apply(TweetDeleted(w.meta(BOB), reply.tweet_id, BOB))
    assert w.feed(ALICE) == [] and w.feed(CAROL) == [] and w.feed(BOB) == []


def test_replaying_the_whole_log_gives_the_same_rows() -> None:
    w = World()
    t = w.post(ALICE)
    log: list[Event] = [t, w.post(BOB, reply_to=t.tweet_id, mentions=(ALICE,)), UserFollowed(w.meta(BOB), BOB, ALICE)]
    log += [TweetLiked(w.meta(CAROL), t.tweet_id, CAROL), NotificationsRead(w.meta(ALICE), ALICE, 7)]
    w.apply(*log)
    before = asyncio.run(w.store.page(ALICE, None, 100))
    for e in log:
        w.apply(e)
    assert asyncio.run(w.store.page(ALICE, None, 100)) == before
    assert asyncio.run(w.store.marker(ALICE)) == 7


def test_ids_are_deterministic_time_sortable_and_cause_specific() -> None:
    a = notification_id(T0, "like:1:2")
    assert a == notification_id(T0, "like:1:2") != notification_id(T0, "like:1:3")
    assert notification_id(T0 + timedelta(milliseconds=1), "like:1:2") > now_id(int(T0.timestamp() * 1000)) >= a
    assert (a >> 22) + EPOCH_MS == int(T0.timestamp() * 1000)


def test_mentions_are_handles_not_addresses() -> None:
    text = "@Ada_L hi @bob, mail me@carol.com or @ab; @ada_l again (@dan) @" + "x" * 31
    assert mentioned_handles(text) == ["ada_l", "bob", "dan"]


class Reads:
    """The timeline's read side (Queries) for rendering."""

    def __init__(self, tweets: dict[int, TweetView], users: dict[int, UserView]) -> None:
        self.t, self.u = tweets, users

    async def hydrate(self, pairs: Sequence[tuple[int, int]]) -> list[TweetView]:
        return [self.t[t] for t, _ in pairs if t in self.t]

    async def users(self, ids: Sequence[int]) -> list[UserView]:
        return [self.u[u] for u in ids if u in self.u]


def test_feed_renders_marks_read_hides_gone_tweets_and_caps_the_count() -> None:
    store = MemoryNotifications()
    from projections.notifications import Insert, Mark

    tweet = TweetView(50, ALICE, "hi", T0, author=UserView(ALICE, "alice", "Alice"))
    gone = TweetView(51, ALICE, "bye", T0, deleted=True)
    notes = [
        Notification(ALICE, notification_id(T0 + timedelta(seconds=i), f"n{i}"), k, BOB, tw, T0 + timedelta(seconds=i))
        for i, (k, tw) in enumerate([("like", 50), ("like", 51), ("follow", None), ("mention", 77)])
    ]
    asyncio.run(store.write([Insert(n, (), n.created_at) for n in notes] + [Mark(ALICE, notes[0].notification_id, T0)]))
    feed = NotificationFeed(store, Reads({50: tweet, 51: gone}, {BOB: UserView(BOB, "bob", "Bob")}))
    page = asyncio.run(feed.page(ALICE, None, 3))
    assert [(i["type"], i["read"]) for i in page.items] == [("follow", False)]  # 77 unknown, 51 deleted
    assert page.next_before == notes[1].notification_id and page.unread_count == 3
    last = asyncio.run(feed.page(ALICE, page.next_before, 3))
    item: dict[str, Any] = last.items[0]
    assert item == {
        "id": str(notes[0].notification_id),
        "type": "like",
        "created_at": T0,
        "account": {"user_id": str(BOB), "handle": "bob", "display_name": "Bob"},
        "tweet": item["tweet"],
        "read": True,
    }
    assert item["tweet"]["tweet_id"] == "50" and item["tweet"]["author"]["handle"] == "alice"
    from api.models import NotificationOut

    assert NotificationOut.model_validate(item).model_dump(mode="json")["tweet"]["tweet_id"] == "50"
    assert last.next_before is None
    many = [Notification(CAROL, i + 1, "follow", BOB, None, T0) for i in range(UNREAD_CAP + 5)]
    asyncio.run(store.write([Insert(n, (), n.created_at) for n in many]))
    assert asyncio.run(feed.unread_count(CAROL)) == UNREAD_CAP
