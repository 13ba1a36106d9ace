"""The one registry of topics, their keys and the events they carry.

No other module spells a topic name. Kafka names are `<prefix><name>` so that several
deployments (or test sessions) can share a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import (
    Event,
    NotificationsRead,
    TweetDeleted,
    TweetEdited,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserRegistered,
    UserUnfollowed,
)


@dataclass(frozen=True)
class Topic:
    name: str
    key_field: str | None
    events: tuple[type[Event], ...]
    doc: str
    compacted: bool = False  # state keyed by id (last value wins), not a history of events

    def kafka_name(self, prefix: str) -> str:
        return prefix + self.name


TWEETS = Topic(
    "tweets",
    "author_id",
    (TweetPosted, TweetEdited, TweetDeleted),
    "Posts, replies, edits and deletes, keyed by author so one author's history stays in order.",
)
FOLLOWS = Topic(
    "follows",
    "followee_id",
    (UserFollowed, UserUnfollowed),
    "The follow graph, keyed by followee: co-partitioned with tweets, so the partition that sees an "
    "author's tweets also sees who follows that author.",
)
LIKES = Topic("likes", "tweet_id", (TweetLiked, TweetUnliked), "Likes, keyed by tweet.")
USERS = Topic(
    "users",
    "user_id",
    (UserRegistered, NotificationsRead),
    "Accounts and each user's own state (the notifications read marker), keyed by user.",
)
DEAD_LETTERS = Topic(
    "deadletters",
    None,
    (),
    "Messages a consumer could not process, with the reason and origin in headers.",
)
DEAD_LETTER_REQUEUES = Topic(
    "deadletters.requeued",
    None,
    (),
    "Which dead letters `chirp dlq requeue` sent back and where: keyed by the dead letter's partition:offset, "
    "so that each is requeued at most once. Not an event topic: no worker reads it.",
    compacted=True,
)

EVENT_TOPICS: tuple[Topic, ...] = (USERS, TWEETS, FOLLOWS, LIKES)
ALL_TOPICS: tuple[Topic, ...] = (*EVENT_TOPICS, DEAD_LETTERS, DEAD_LETTER_REQUEUES)
COPARTITIONED: tuple[Topic, ...] = (TWEETS, FOLLOWS)

_TOPIC_OF: dict[type, Topic] = {cls: t for t in EVENT_TOPICS for cls in t.events}


def topic_for(event: Event) -> Topic:
    return _TOPIC_OF[type(event)]


def key_for(event: Event) -> bytes:
    """The partition key: the decimal id in the topic's key field (same bytes on every co-partitioned topic)."""
    topic = _TOPIC_OF[type(event)]
    assert topic.key_field is not None
    return str(getattr(event, topic.key_field)).encode()


def by_name(name: str) -> Topic:
    for t in ALL_TOPICS:
        if t.name == name:
            return t
    raise KeyError(f"unknown topic {name!r}; known: {', '.join(t.name for t in ALL_TOPICS)}")
