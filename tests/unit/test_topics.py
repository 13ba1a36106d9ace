from __future__ import annotations

from dataclasses import fields

from schemas.events import EVENT_TYPES, TweetPosted, UserFollowed
from schemas.topics import (
    ALL_TOPICS,
    COPARTITIONED,
    EVENT_TOPICS,
    FOLLOWS,
    TWEETS,
    by_name,
    key_for,
    topic_for,
)
from tests.unit.test_codec import SAMPLES


def test_every_event_type_has_exactly_one_topic() -> None:
    owners = [cls for t in EVENT_TOPICS for cls in t.events]
    assert sorted(c.__name__ for c in owners) == sorted(EVENT_TYPES)


def test_key_fields_exist_on_every_event_of_the_topic() -> None:
    for t in EVENT_TOPICS:
        for cls in t.events:
            assert t.key_field in {f.name for f in fields(cls)}, (t.name, cls.__name__)


def test_tweets_and_follows_share_partitioning_by_the_author() -> None:
    """A tweet's key (its author) equals the key of the follows of that author, byte for byte."""
    assert (TWEETS.key_field, FOLLOWS.key_field) == ("author_id", "followee_id")
    assert set(COPARTITIONED) == {TWEETS, FOLLOWS}
    post = next(e for e in SAMPLES if isinstance(e, TweetPosted))
    follow = next(e for e in SAMPLES if isinstance(e, UserFollowed))
    assert topic_for(post) is TWEETS and topic_for(follow) is FOLLOWS
    assert key_for(post) == str(post.author_id).encode()
    assert key_for(follow) == str(follow.followee_id).encode()


def test_names_are_unique_and_prefixed() -> None:
    names = [t.kafka_name("x.") for t in ALL_TOPICS]
    assert len(set(names)) == len(names) and all(n.startswith("x.") for n in names)
    assert by_name("tweets") is TWEETS
