"""What the read side hands back: plain immutable views, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import Media


@dataclass(frozen=True, slots=True)
class UserView:
    user_id: int
    handle: str
    display_name: str


@dataclass(frozen=True, slots=True)
class TweetView:
    tweet_id: int
    author_id: int
    content: str
    created_at: datetime
    reply_to: int | None = None
    edited_at: datetime | None = None
    media: tuple[Media, ...] = field(default=())
    deleted: bool = False
    like_count: int = 0
    reply_count: int = 0
    author: UserView | None = None


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """A page of entries; `horizon` is the id at and below which the Redis part was incomplete."""

    entries: list[tuple[int, int]]
    horizon: int


@dataclass(slots=True)
class BatchStats:
    """What one worker batch did: next offsets per `topic:partition`, counts, post-to-fan-out delays."""

    progress: dict[str, int] = field(default_factory=dict)
    events: int = 0
    deliveries: int = 0
    delays_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Trend:
    """A hashtag over a window: `tag` normalized (NFKC, case-folded), `display` as first written."""

    tag: str
    display: str
    tweets: int
    accounts: int
