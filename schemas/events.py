"""Events: immutable facts, named in the past tense, with no I/O.

Each class mirrors the latest `.avsc` of the same name in `schemas/avro/`; the envelope fields
(`event_id`, `occurred_at`, `actor_id`) live in `Meta` so payloads stay readable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Meta:
    """Envelope data shared by every event."""

    event_id: str
    occurred_at: datetime
    actor_id: int

    @classmethod
    def new(cls, actor_id: int, occurred_at: datetime | None = None) -> Meta:
        return cls(str(uuid.uuid4()), occurred_at or datetime.now(UTC), actor_id)


@dataclass(frozen=True, slots=True)
class Media:
    """A media descriptor; the bytes live in object storage behind the CDN, never in the log. `key` names an
    object uploaded through POST /media (clients get its URL from the configured media base)."""

    url: str
    type: str
    alt_text: str | None = None
    size_bytes: int | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class UserRegistered:
    meta: Meta
    user_id: int
    handle: str
    display_name: str


@dataclass(frozen=True, slots=True)
class TweetPosted:
    meta: Meta
    tweet_id: int
    author_id: int
    content: str
    reply_to: int | None = None
    media: tuple[Media, ...] = field(default=())
    mentions: tuple[int, ...] = field(default=())  # users named as @handle, resolved when accepted


@dataclass(frozen=True, slots=True)
class TweetEdited:
    meta: Meta
    tweet_id: int
    author_id: int
    content: str


@dataclass(frozen=True, slots=True)
class TweetDeleted:
    meta: Meta
    tweet_id: int
    author_id: int


@dataclass(frozen=True, slots=True)
class UserFollowed:
    meta: Meta
    follower_id: int
    followee_id: int


@dataclass(frozen=True, slots=True)
class UserUnfollowed:
    meta: Meta
    follower_id: int
    followee_id: int


@dataclass(frozen=True, slots=True)
class TweetLiked:
    meta: Meta
    tweet_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class TweetUnliked:
    meta: Meta
    tweet_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class NotificationsRead:
    meta: Meta
    user_id: int
    up_to: int


Event = (
    UserRegistered
    | TweetPosted
    | TweetEdited
    | TweetDeleted
    | UserFollowed
    | UserUnfollowed
    | TweetLiked
    | TweetUnliked
    | NotificationsRead
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        UserRegistered,
        TweetPosted,
        TweetEdited,
        TweetDeleted,
        UserFollowed,
        UserUnfollowed,
        TweetLiked,
        TweetUnliked,
        NotificationsRead,
    )
}
