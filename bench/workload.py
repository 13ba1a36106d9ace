"""A deterministic social workload: Zipf-distributed follower counts (a few accounts far above the
celebrity threshold), tweets with hashtags and mentions, replies, likes, follows and unfollows.

Everything derives from one seed, so two runs (and the baselines inside one run) see the same data.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import (
    Event,
    Meta,
    TweetLiked,
    TweetPosted,
    UserFollowed,
    UserRegistered,
    UserUnfollowed,
)
from schemas.ids import TOOL_NODES, IdGenerator

TOPICS = tuple(
    "kafka redis cassandra python streams replay timelines coffee rust music football climate".split()  # noqa: SIM905
)
WORDS = tuple(
    "the a of to and in is it you that was for on are with as be at one have this from by hot word".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Profile:
    name: str
    users: int
    tweets: int
    mean_follows: int
    celebrity_threshold: int  # set so that a few accounts of the profile are over it
    zipf_s: float = 1.1


PROFILES = {
    "tiny": Profile("tiny", users=200, tweets=1_000, mean_follows=10, celebrity_threshold=50),
    "quick": Profile("quick", users=1_000, tweets=8_000, mean_follows=20, celebrity_threshold=300),
    "default": Profile("default", users=5_000, tweets=40_000, mean_follows=40, celebrity_threshold=2_000),
    "large": Profile("large", users=100_000, tweets=1_000_000, mean_follows=50, celebrity_threshold=10_000),
}


@dataclass
class Workload:
    profile: Profile
    seed: int
    users: list[int] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)
    follows: list[tuple[int, int]] = field(default_factory=list)  # (follower, followee), final graph
    unfollowed: list[tuple[int, int]] = field(default_factory=list)  # followed, then unfollowed
    tweets: list[TweetPosted] = field(default_factory=list)
    likes: list[TweetLiked] = field(default_factory=list)

    def setup_events(self) -> list[Event]:
        """Registrations and the follow graph (with some follow-then-unfollow churn)."""
        out: list[Event] = []
        t0 = datetime.now(UTC) - timedelta(hours=1)
        for uid, handle in zip(self.users, self.handles, strict=True):
            out.append(UserRegistered(Meta(f"r{uid}", t0, uid), uid, handle, handle.title()))
        for i, (a, b) in enumerate(self.follows + self.unfollowed):
            out.append(UserFollowed(Meta(f"f{i}", t0, a), a, b))
        for i, (a, b) in enumerate(self.unfollowed):
            out.append(UserUnfollowed(Meta(f"u{i}", t0 + timedelta(seconds=1), a), a, b))
        return out

    def followers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {u: [] for u in self.users}
        for a, b in self.follows:
            out[b].append(a)
        return out

    def summary(self) -> dict[str, Any]:
        """What a report says of the workload."""
        return {
            "profile": self.profile.name,
            "seed": self.seed,
            "users": len(self.users),
            "follows": len(self.follows),
            "tweets": len(self.tweets),
            "celebrity_threshold": self.profile.celebrity_threshold,
        }

    def celebrities(self) -> set[int]:
        """Accounts over the profile's threshold: merged at read time, never fanned out."""
        return {u for u, f in self.followers().items() if len(f) > self.profile.celebrity_threshold}


def add_profile_options(parser: argparse.ArgumentParser, tiny: str) -> None:
    """--tiny, --quick or --large (else the default profile), --seed and --seconds, as every benchmark takes them."""
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_true", help=f"200 users, 1,000 tweets: {tiny}")
    size.add_argument("--quick", action="store_true", help="1,000 users, 8,000 tweets, short runs: a two-minute check")
    size.add_argument("--large", action="store_true", help="100,000 users and 1,000,000 tweets")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument("--seconds", type=int, default=None, help="duration of each timed load run (default 10)")


def chosen_profile(args: argparse.Namespace) -> tuple[Profile, int]:
    """The profile the options name, and the seconds of each timed run (2 for --tiny and --quick, else 10)."""
    name = "tiny" if args.tiny else "quick" if args.quick else "large" if args.large else "default"
    return PROFILES[name], args.seconds or {"tiny": 2, "quick": 2}.get(name, 10)


def generate(profile: Profile, seed: int = 7) -> Workload:
    rng = random.Random(seed)
    ids = IdGenerator(node_id=TOOL_NODES[seed % len(TOOL_NODES)])
    w = Workload(profile, seed)
    w.users = [ids.next_id() for _ in range(profile.users)]
    w.handles = [f"u{i}_{seed}" for i in range(profile.users)]
    _graph(w, rng)
    _tweets(w, rng, ids)
    return w


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


def _graph(w: Workload, rng: random.Random) -> None:
    """Popularity by Zipf rank: user 0 is followed by a large share of everyone, most by a few."""
    n = w.profile.users
    weights = _zipf_weights(n, w.profile.zipf_s)
    edges: set[tuple[int, int]] = set()
    for follower in range(n):
        k = max(1, min(n - 1, int(rng.expovariate(1 / w.profile.mean_follows))))
        for followee in rng.choices(range(n), weights=weights, k=k):
            if followee != follower:
                edges.add((follower, followee))
    pairs = sorted(edges)
    churn = set(rng.sample(range(len(pairs)), k=len(pairs) // 50))
    w.follows = [(w.users[a], w.users[b]) for i, (a, b) in enumerate(pairs) if i not in churn]
    w.unfollowed = [(w.users[a], w.users[b]) for i, (a, b) in enumerate(pairs) if i in churn]


def _tweets(w: Workload, rng: random.Random, ids: IdGenerator) -> None:
    n = w.profile.users
    weights = _zipf_weights(n, 0.8)  # popular accounts also post more, less steeply
    authors = rng.choices(range(n), weights=weights, k=w.profile.tweets)
    posted: list[int] = []
    for i, a in enumerate(authors):
        author = w.users[a]
        words = rng.choices(WORDS, k=rng.randint(4, 14))
        words.append(f"#{rng.choice(TOPICS)}")
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), f"@{w.handles[rng.randrange(n)]}")
        reply_to = rng.choice(posted[-1000:]) if posted and rng.random() < 0.1 else None
        tweet_id = ids.next_id()
        meta = Meta(f"t{tweet_id}", datetime.now(UTC), author)
        w.tweets.append(TweetPosted(meta, tweet_id, author, " ".join(words), reply_to))
        posted.append(tweet_id)
        if rng.random() < 0.3:
            liker = w.users[rng.randrange(n)]
            w.likes.append(TweetLiked(Meta(f"l{i}", meta.occurred_at, liker), tweet_id, liker))
