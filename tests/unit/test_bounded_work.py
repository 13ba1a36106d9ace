"""Work per request stays bounded: trends computed at most once per few seconds, hashtags counted per tweet
capped, streams per user capped."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers.stream import _within_stream_cap
from infra.settings import Settings
from projections.model import Trend
from projections.text import MAX_HASHTAGS, hashtags
from tests.fakes.api import memory_wiring


class CountingTrends:
    def __init__(self) -> None:
        self.calls = 0

    async def top(self, window: str, now: datetime, limit: int) -> list[Trend]:
        self.calls += 1
        return [Trend("chirp", "chirp", 3, 2)]


def test_trends_are_computed_once_per_window_and_limit_within_the_cache_time() -> None:
    settings = Settings(trends_cache_s=60)
    w = memory_wiring(settings)
    counting = CountingTrends()
    w.trends = counting
    with TestClient(create_app(settings, w)) as c:
        answers = [c.get("/trends", params={"window": "1h"}).json() for _ in range(5)]
        assert counting.calls == 1 and answers[0] == answers[-1]
        assert answers[0]["trends"] == [{"hashtag": "chirp", "name": "#chirp", "tweets": 3, "accounts": 2}]
        c.get("/trends", params={"window": "1d"})
        c.get("/trends", params={"window": "1h", "limit": 3})
        assert counting.calls == 3


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
