"""The orjson bodies of the read and post routes are exactly what the documented response models give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from api.models import TimelineOut, TweetCreated, TweetOut, TweetPage
from api.render import json_response, page_json, timeline_json, tweet_created_json, tweet_json
from projections.model import TweetView, UserView
from projections.queries import Page
from schemas.events import Media, Meta, TweetPosted
from schemas.ids import MAX_ID

ids = st.integers(1, MAX_ID)
text = st.text(max_size=40)
times = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
    st.datetimes(timezones=st.just(timezone(timedelta(hours=-5, minutes=-30)))),
)
media = st.builds(
    Media,
    url=text,
    type=st.sampled_from(["image", "gif", "video"]),
    alt_text=st.none() | text,
    size_bytes=st.none() | st.integers(0, 1 << 40),
)
users = st.builds(UserView, user_id=ids, handle=text, display_name=text)
views = st.builds(
    TweetView,
    tweet_id=ids,
    author_id=ids,
    content=text,
    created_at=times,
    reply_to=st.none() | ids,
    edited_at=st.none() | times,
    media=st.lists(media, max_size=4).map(tuple),
    like_count=st.integers(0, 10**9),
    reply_count=st.integers(0, 10**9),
    author=st.none() | users,
)
pages = st.builds(Page, tweets=st.lists(views, max_size=5), next_before=st.none() | ids, rebuilt=st.booleans())


def same_as_model(model: type[BaseModel], body: dict[str, Any]) -> None:
    """The body validates as the model, and pydantic writes it byte for byte as orjson does."""
    assert json_response(body).body == model.model_validate(body).model_dump_json().encode()


@given(views)
def test_a_tweet_is_a_tweet_out(v: TweetView) -> None:
    same_as_model(TweetOut, tweet_json(v))


@given(pages)
def test_pages_are_tweet_pages_and_timelines(page: Page) -> None:
    same_as_model(TweetPage, page_json(page))
    body = timeline_json(page)
    same_as_model(TimelineOut, body)
    assert body["status"] == ("rebuilt" if page.rebuilt else "ready")
    assert (body["next_cursor"] is None) == (page.next_before is None)


@given(ids, ids, text, st.none() | ids, st.lists(media, max_size=4).map(tuple))
def test_a_post_is_a_tweet_created(
    tweet_id: int, author: int, content: str, reply_to: int | None, m: tuple[Media, ...]
) -> None:
    event = TweetPosted(Meta.new(author), tweet_id, author, content, reply_to, m)
    same_as_model(TweetCreated, tweet_created_json(event))


def test_json_response_is_json_with_the_status() -> None:
    r = json_response({"a": datetime(2024, 1, 1, tzinfo=UTC)}, 201)
    assert r.status_code == 201 and r.media_type == "application/json"
    assert orjson.loads(r.body) == {"a": "2024-01-01T00:00:00Z"}
