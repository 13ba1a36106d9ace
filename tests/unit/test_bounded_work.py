"""Work per request stays bounded: hashtags counted per tweet capped (trends are computed once per change:
tests/integration/test_trends.py; streams per user across processes: tests/integration/test_push.py)."""

from __future__ import annotations

from projections.text import MAX_HASHTAGS, hashtags


def test_a_tweet_counts_for_ten_hashtags_at_most() -> None:
    text = " ".join(f"#tag{i}" for i in range(40))
    assert list(hashtags(text)) == [f"tag{i}" for i in range(MAX_HASHTAGS)]
