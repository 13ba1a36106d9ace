"""Hashtag extraction and the bucket arithmetic of trends (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from projections.stores.redis_trends import script_args
from projections.text import hashtags, normalize
from projections.trends import SLACK_S, WINDOWS, live_buckets
from schemas.ids import EPOCH_MS, NODE_BITS, SEQ_BITS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_tags_are_case_folded_counted_once_and_keep_the_first_form() -> None:
    assert hashtags("#Chirp is #chirp is #CHIRP") == {"chirp": "Chirp"}
    assert hashtags("full width \uff03\uff23hirp") == {"chirp": "Chirp"}  # NFKC
    assert normalize("Straße") == normalize("STRASSE") == "strasse"


def test_what_is_and_is_not_a_hashtag() -> None:
    text = "#a_1 x#inword &#38; #2024 #__ ##double (#paren) #end. #über #日本語 #हिन्दी"
    assert list(hashtags(text)) == ["a_1", "paren", "end", "über", "日本語", "हिन्दी"]
    assert hashtags("no tags here") == {}
    assert hashtags("#" + "x" * 101) == {}  # too long to be a tag


def test_combining_marks_stay_in_the_tag() -> None:
    assert list(hashtags("#नमस्ते!")) == ["नमस्ते"]  # the virama is a combining mark, not a word end


def test_buckets_of_a_window_overlap_it_and_nothing_more() -> None:
    h = WINDOWS["1h"]
    assert h.bucket(T0 + timedelta(seconds=299)) == int(T0.timestamp())
    on_edge = h.buckets(T0)  # the window (11:00, 12:00] ends where a bucket starts
    assert len(on_edge) == 13 and on_edge[0] == int(T0.timestamp()) - 3600 and on_edge[-1] == int(T0.timestamp())
    mid = h.buckets(T0 + timedelta(seconds=150))
    assert len(mid) == 13 and mid[0] == int(T0.timestamp()) - 3600  # 11:02:30 falls in the 11:00 bucket
    d = WINDOWS["1d"].buckets(T0 + timedelta(minutes=30))
    assert len(d) == 25 and d[1] - d[0] == 3600


def test_old_events_skip_buckets_already_expired() -> None:
    h, d = WINDOWS["1h"], WINDOWS["1d"]
    assert {w.name for w, _ in live_buckets(T0, T0)} == {"1h", "1d"}
    late = T0 + timedelta(seconds=300 + h.seconds + SLACK_S)  # the 5-minute bucket is gone, the hour is not
    assert [w.name for w, _ in live_buckets(T0, late)] == ["1d"]
    assert live_buckets(T0, T0 + timedelta(seconds=3600 + d.seconds + SLACK_S)) == []


def tweet_id_at(at: datetime) -> int:
    return (int(at.timestamp() * 1000) - EPOCH_MS) << (NODE_BITS + SEQ_BITS)


def test_script_args_come_from_the_tweet_time_not_the_clock() -> None:
    tid = tweet_id_at(T0 + timedelta(minutes=7))
    a = script_args("post", tid, 9, {"chirp": "Chirp"}, T0 + timedelta(minutes=8))
    b = script_args("post", tid, 9, {"chirp": "Chirp"}, T0 + timedelta(hours=5))  # a replay, later
    assert a is not None and b is not None
    assert a[0:4] == ["post", tid, 9, int(T0.timestamp()) + 3600 + 86400 + SLACK_S]
    assert a[-2:] == ["chirp", "Chirp"] and a[4] == 2 and b[4] == 1  # the replay skips the expired 5-min bucket
    assert a[a.index("1d") + 1 : a.index("1d") + 3] == b[b.index("1d") + 1 : b.index("1d") + 3]
    assert script_args("delete", tid, 9, {}, T0 + timedelta(days=2)) is None
