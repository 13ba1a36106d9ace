"""The oracle: home timelines computed straight from the event log (fan-out on read).

The correctness rule: once the pipeline is idle, the home timeline served for U equals, entry for
entry, the newest N non-deleted tweets by U and by the accounts U follows *now*. This model knows
nothing of Redis, Cassandra or thresholds; property tests and `chirp verify` compare against it.
Events must be given in log order per partition (the order within one key is all that matters).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.events import (
    Event,
    TweetDeleted,
    TweetEdited,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserRegistered,
    UserUnfollowed,
)


class ReferenceModel:
    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.users: dict[int, str] = {}
        self.tweets: dict[int, TweetPosted] = {}
        self.content: dict[int, str] = {}
        self.deleted: set[int] = set()
        self.follows: dict[tuple[int, int], bool] = {}
        self.likes: dict[tuple[int, int], bool] = {}
        self.handles: dict[str, int] = {}
        for e in events:
            self.apply(e)

    def apply(self, e: Event) -> None:
        match e:
            case UserRegistered():
                if self.handles.setdefault(e.handle.lower(), e.user_id) == e.user_id:  # the first one wins
                    self.users[e.user_id] = e.handle
            case TweetPosted():
                if e.author_id == e.meta.actor_id:
                    self.tweets.setdefault(e.tweet_id, e)
                    self.content.setdefault(e.tweet_id, e.content)
            case TweetEdited():
                if self._by_author(e.tweet_id, e.meta.actor_id):
                    self.content[e.tweet_id] = e.content
            case TweetDeleted():
                if self._by_author(e.tweet_id, e.meta.actor_id):
                    self.deleted.add(e.tweet_id)
            case UserFollowed():
                self.follows[(e.follower_id, e.followee_id)] = True
            case UserUnfollowed():
                self.follows[(e.follower_id, e.followee_id)] = False
            case TweetLiked():
                self.likes[(e.tweet_id, e.user_id)] = True
            case TweetUnliked():
                self.likes[(e.tweet_id, e.user_id)] = False

    def _by_author(self, tweet_id: int, actor: int) -> bool:
        """The rules the projector enforces: only the author edits or deletes an existing tweet."""
        posted = self.tweets.get(tweet_id)
        return posted is not None and posted.author_id == actor

    def following(self, user_id: int) -> set[int]:
        return {b for (a, b), on in self.follows.items() if on and a == user_id}

    def home(self, user_id: int, limit: int) -> list[int]:
        authors = self.following(user_id) | {user_id}
        live = [t for t, e in self.tweets.items() if e.author_id in authors and t not in self.deleted]
        return sorted(live, reverse=True)[:limit]

    def user_tweets(self, user_id: int, limit: int) -> list[int]:
        live = [t for t, e in self.tweets.items() if e.author_id == user_id and t not in self.deleted]
        return sorted(live, reverse=True)[:limit]

    def reply_counts(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for t, e in self.tweets.items():
            if e.reply_to is not None and t not in self.deleted:
                counts[e.reply_to] += 1
        return dict(counts)

    def like_counts(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for (tweet, _), on in self.likes.items():
            if on:
                counts[tweet] += 1
        return dict(counts)
