"""The time buckets trends are counted in: pure functions, no I/O (hashtags are parsed in projections/text.py).

Counts go into buckets of the tweet's own time (its id's time, which is the time of its `TweetPosted`),
so replaying the log rebuilds exactly the same buckets whenever it runs; each window reads the buckets
of its own granularity that overlap it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SLACK_S = 600  # buckets outlive their window by this much, so a window's oldest bucket is whole at read


@dataclass(frozen=True)
class Window:
    """A trends window: its length, and the width of the buckets it is counted in."""

    name: str
    seconds: int
    bucket_s: int

    @property
    def keep_s(self) -> int:
        """How long a bucket lives after it ends."""
        return self.seconds + SLACK_S

    def bucket(self, at: datetime) -> int:
        """Start (Unix seconds) of the bucket holding `at`."""
        t = int(at.timestamp())
        return t - t % self.bucket_s

    def expires(self, bucket: int) -> int:
        """When a bucket is removed (Unix seconds, absolute: a replay sets the same expiry)."""
        return bucket + self.bucket_s + self.keep_s

    def buckets(self, now: datetime) -> list[int]:
        """The buckets overlapping (now - window, now], oldest first: the window is read to the bucket,
        so it reaches back at most one bucket width further than its length."""
        newest = self.bucket(now)
        oldest = self.bucket(datetime.fromtimestamp(now.timestamp() - self.seconds, tz=UTC))
        if oldest + self.bucket_s <= now.timestamp() - self.seconds:  # ends at or before the window starts
            oldest += self.bucket_s
        return list(range(oldest, newest + 1, self.bucket_s))


WINDOWS: dict[str, Window] = {
    "1h": Window("1h", 3600, 300),  # 12-13 five-minute buckets
    "1d": Window("1d", 86400, 3600),  # 24-25 one-hour buckets
}
LONGEST = max(WINDOWS.values(), key=lambda w: w.seconds)


def live_buckets(at: datetime, now: datetime) -> list[tuple[Window, int]]:
    """(window, bucket) a tweet of time `at` counts in, leaving out buckets already expired at `now`
    (an old event replayed, or a late one): they would be removed at once."""
    out = []
    for w in WINDOWS.values():
        b = w.bucket(at)
        if w.expires(b) > now.timestamp():
            out.append((w, b))
    return out
