"""Work per request stays bounded: hashtags counted per tweet capped, streams per user capped (trends are
computed once per change: tests/integration/test_trends.py)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from api.routers.stream import _within_stream_cap
from projections.text import MAX_HASHTAGS, hashtags


def test_a_tweet_counts_for_ten_hashtags_at_most() -> None:
    text = " ".join(f"#tag{i}" for i in range(40))
    assert list(hashtags(text)) == [f"tag{i}" for i in range(MAX_HASHTAGS)]


class Hub:
    def __init__(self, open_streams: int) -> None:
        self.open_streams = open_streams

    def streams_of(self, user_id: int) -> int:
        return self.open_streams


def test_streams_per_user_are_capped() -> None:
    _within_stream_cap(Hub(7), 1, cap=8)  # type: ignore[arg-type]
    with pytest.raises(HTTPException) as refused:
        _within_stream_cap(Hub(8), 1, cap=8)  # type: ignore[arg-type]
    assert refused.value.status_code == 429
