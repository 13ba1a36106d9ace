"""Pure timeline rules and the reference model (no services)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.reference import ReferenceModel
from projections.timeline import (
    BadCursor,
    Entry,
    bucket_of,
    decode_cursor,
    decode_entry,
    encode_cursor,
    encode_entry,
    horizon_entry,
    merge_newest,
)
from schemas.events import (
    Meta,
    TweetDeleted,
    TweetEdited,
    TweetLiked,
    TweetPosted,
    TweetUnliked,
    UserFollowed,
    UserUnfollowed,
)
from schemas.ids import MAX_ID

ids = st.integers(1, MAX_ID)


@given(a=ids, b=ids, c=ids, d=ids)
def test_entries_sort_bytewise_newest_first(a: int, b: int, c: int, d: int) -> None:
    assert decode_entry(encode_entry(a, b)) == Entry(a, b)
    if a != c:
        assert (encode_entry(a, b) < encode_entry(c, d)) == (a > c)  # a newer tweet sorts first
    assert len(encode_entry(a, b)) == 16
    assert encode_entry(a, b) < horizon_entry(c)  # the sentinel sorts after every entry


@given(ids)
def test_cursors_round_trip(tweet_id: int) -> None:
    assert decode_cursor(encode_cursor(tweet_id)) == tweet_id


@pytest.mark.parametrize(
    "bad", ["garbage", "djI6MTIz", "djE6LTE", "djE6", "x" * 300, "djE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"]
)
def test_foreign_cursors_are_refused(bad: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(bad)


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None) is None and decode_cursor("") is None


def test_buckets_are_monotonic_in_time() -> None:
    assert bucket_of(1 << 22) <= bucket_of(1 << 50) <= bucket_of(MAX_ID)


@given(st.lists(st.lists(st.tuples(st.integers(1, 500), st.integers(1, 5)), max_size=30), max_size=4),
       st.integers(1, 40), st.one_of(st.none(), st.integers(1, 500)))  # fmt: skip
def test_merge_is_newest_first_distinct_and_bounded(
    sources: list[list[tuple[int, int]]], limit: int, before: int | None
) -> None:
    merged = merge_newest([[Entry(t, a) for t, a in s] for s in sources], limit, before)
    got = [e.tweet_id for e in merged]
    everything = {t for s in sources for t, _ in s if before is None or t < before}
    assert got == sorted(everything, reverse=True)[:limit]


def meta(actor: int, n: int = 0) -> Meta:
    return Meta(f"e{actor}-{n}", datetime(2026, 1, 1, tzinfo=UTC), actor)


def test_reference_home_is_own_and_followed_tweets_newest_first() -> None:
    ref = ReferenceModel(
        [
            TweetPosted(meta(1), 10, 1, "mine"),
            TweetPosted(meta(2), 11, 2, "theirs"),
            TweetPosted(meta(3), 12, 3, "stranger"),
            UserFollowed(meta(1), 1, 2),
            UserFollowed(meta(1), 1, 3),
            UserUnfollowed(meta(1), 1, 3),
        ]
    )
    assert ref.home(1, 10) == [11, 10]
    assert ref.home(1, 1) == [11]
    assert ref.home(2, 10) == [11]


def test_reference_applies_the_projector_rules() -> None:
    ref = ReferenceModel(
        [
            TweetPosted(meta(1), 10, 1, "hello"),
            TweetPosted(meta(9), 11, 1, "forged: posted by 9 for 1"),
            TweetEdited(meta(9), 10, 1, "forged edit"),
            TweetDeleted(meta(9), 10, 1),
            TweetEdited(meta(1), 10, 1, "edited"),
            TweetPosted(meta(2), 12, 2, "reply", reply_to=10),
            TweetPosted(meta(2, 1), 13, 2, "deleted reply", reply_to=10),
            TweetDeleted(meta(2), 13, 2),
            TweetLiked(meta(3), 10, 3),
            TweetLiked(meta(3, 1), 10, 3),
            TweetLiked(meta(4), 10, 4),
            TweetUnliked(meta(4), 10, 4),
        ]
    )
    assert ref.home(1, 10) == [10]
    assert ref.content[10] == "edited"
    assert ref.reply_counts() == {10: 1}
    assert ref.like_counts() == {10: 1}
