"""The view cache's bookkeeping (projections/stores/redis_views.py): what invalidations drop, and the race where a
view read before a change would be stored after the change's message."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.model import TweetView, UserView
from projections.stores.keys import RedisKeys
from projections.stores.redis_views import PRUNE_AT, ViewCache

P = "chirp:v2:"
K = RedisKeys(P)
AUTHOR, OTHER = 7, 8
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def view(tweet_id: int, author_id: int = AUTHOR, likes: int = 0) -> TweetView:
    return TweetView(tweet_id, author_id, f"tweet {tweet_id}", NOW, like_count=likes,
                     author=UserView(author_id, f"u{author_id}", f"User {author_id}"))  # fmt: skip


def live_cache(size: int = 100) -> ViewCache:
    cache = ViewCache(P, size)
    cache.set_live(True)
    return cache


def stored(cache: ViewCache, *views: TweetView) -> None:
    token = cache.begin()
    cache.put(token, views)
    cache.end(token)


def test_prefixes_are_the_tweet_like_reply_and_user_keys_of_the_version() -> None:
    assert ViewCache(P, 10).prefixes() == [f"{P}t:{{", f"{P}lk:{{", f"{P}rp:{{", f"{P}u:{{"]
    for key in (K.tweet(5), K.likes(5), K.replies(5), K.user(5)):
        assert any(key.startswith(p) for p in ViewCache(P, 10).prefixes())


def test_nothing_is_served_or_kept_while_not_live() -> None:
    cache = ViewCache(P, 10)
    stored(cache, view(1))
    assert cache.get([1]) == {} and len(cache) == 0
    cache.set_live(True)
    stored(cache, view(1))
    assert cache.get([1, 2]) == {1: view(1)}
    cache.set_live(False)
    assert cache.get([1]) == {} and len(cache) == 0


def test_a_change_to_a_tweet_its_likes_or_its_replies_drops_its_view() -> None:
    cache = live_cache()
    for key in (K.tweet(1), K.likes(2), K.replies(3)):
        stored(cache, view(1), view(2), view(3), view(4))
        cache.invalidate([key.encode()])
        assert set(cache.get([1, 2, 3, 4])) == {1, 2, 3, 4} - {int(key.rsplit("{", 1)[1][:-1])}


def test_keys_of_other_prefixes_and_families_drop_nothing() -> None:
    cache = live_cache()
    stored(cache, view(1))
    other = RedisKeys("chirp:")  # the base prefix, where the version's own keys are not
    cache.invalidate([other.tweet(1).encode(), K.timeline(1).encode(), K.pending(1).encode(), b"garbage", b""])
    assert cache.get([1]) == {1: view(1)}


def test_a_change_to_an_author_drops_every_view_by_them() -> None:
    cache = live_cache()
    stored(cache, view(1), view(2), view(3, OTHER))
    cache.invalidate([K.user(AUTHOR).encode()])
    assert set(cache.get([1, 2, 3])) == {3}
    stored(cache, view(1))
    assert set(cache.get([1, 2, 3])) == {1, 3}


def test_a_view_read_before_a_change_is_not_stored_after_its_message() -> None:
    cache = live_cache()
    token = cache.begin()  # the read's request goes out
    cache.invalidate([K.likes(1).encode()])  # a like lands; its message arrives before the read's reply
    cache.put(token, [view(1), view(2)])
    cache.end(token)
    assert set(cache.get([1, 2])) == {2}
    stored(cache, view(1, likes=1))  # a read that began after the message keeps it
    assert cache.get([1])[1].like_count == 1


def test_a_view_read_before_its_authors_change_is_not_stored() -> None:
    cache = live_cache()
    token = cache.begin()
    cache.invalidate([K.user(AUTHOR).encode()])
    cache.put(token, [view(1), view(2, OTHER)])
    cache.end(token)
    assert set(cache.get([1, 2])) == {2}


def test_a_flush_or_a_lost_link_refuses_reads_begun_before_it() -> None:
    cache = live_cache()
    stored(cache, view(1))
    token = cache.begin()
    cache.invalidate(None)  # FLUSHALL: every key changed
    assert cache.get([1]) == {}
    cache.put(token, [view(2)])
    cache.end(token)
    assert cache.get([2]) == {}
    token = cache.begin()
    cache.set_live(False)
    cache.set_live(True)
    cache.put(token, [view(3)])
    cache.end(token)
    assert cache.get([3]) == {}


def test_views_without_their_author_are_not_kept() -> None:
    cache = live_cache()
    no_author = TweetView(1, AUTHOR, "x", NOW)
    wrong = TweetView(2, AUTHOR, "x", NOW, author=UserView(OTHER, "o", "O"))
    stored(cache, no_author, wrong)
    assert cache.get([1, 2]) == {}


def test_the_oldest_stored_view_goes_first_at_the_size() -> None:
    cache = live_cache(size=3)
    stored(cache, view(1), view(2), view(3))
    stored(cache, view(2, likes=5), view(4))  # 2 is replaced in place, 1 goes
    assert set(cache.get([1, 2, 3, 4])) == {2, 3, 4} and len(cache) == 3
    cache.invalidate([K.user(AUTHOR).encode()])  # the author's index forgot the evicted one
    assert len(cache) == 0


def test_changes_are_remembered_only_while_reads_that_began_before_them_are_in_flight() -> None:
    cache = live_cache()
    slow = cache.begin()
    for t in range(PRUNE_AT * 3):
        token = cache.begin()
        cache.invalidate([K.tweet(t).encode()])
        cache.end(token)
    remembered = len(cache._tweets_dropped)
    assert remembered == PRUNE_AT * 3  # the slow read began before all of them
    cache.put(slow, [view(5), view(PRUNE_AT * 3 + 1)])
    assert set(cache.get([5, PRUNE_AT * 3 + 1])) == {PRUNE_AT * 3 + 1}
    cache.end(slow)
    assert len(cache._tweets_dropped) == 0  # no read in flight: nothing to remember
    older = cache.begin()  # from now on a read is always in flight, each beginning before the last ends
    for t in range(PRUNE_AT * 3):
        newer = cache.begin()
        cache.invalidate([K.tweet(t).encode()])
        cache.put(older, [view(t)])  # the older read began before this change: refused
        assert cache.get([t]) == {}
        cache.end(older)
        older = newer
    assert len(cache._tweets_dropped) <= PRUNE_AT + 1  # pruned past the oldest read in flight
    cache.end(older)


def test_counts_hits_misses_and_messages() -> None:
    cache = live_cache()
    stored(cache, view(1), view(2))
    cache.get([1, 2, 3])
    cache.invalidate([K.tweet(1).encode(), K.tweet(2).encode()])
    assert (cache.hits, cache.misses, cache.invalidations) == (2, 2, 1)
