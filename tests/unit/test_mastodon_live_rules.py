"""Pure rules of the Mastodon API's notifications, markers, tags and streaming: chirp's kinds as Mastodon's types,
`types[]`/`exclude_types[]`, marker bodies (JSON and form), and chirp's push messages as streaming events."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from fastapi import HTTPException

from api.mastodon.models import Status
from api.mastodon.notifications import NotificationOut, marker_ids
from api.mastodon.search import TagOut
from projections.mastodon_wire import mastodon_event, pushed_handles, tag_json, wanted_kinds
from projections.model import TweetView, UserView
from projections.notifications import Notification, notification_json
from projections.push import message
from projections.wire import delete_message, edit_head, tweet_json, update_message
from schemas.events import Media

BASE = "https://chirp.example"
T = datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)
ADA, BOB = UserView(7, "ada", "Ada"), UserView(8, "bob", "Bob")


def test_types_and_exclude_types_select_chirp_kinds() -> None:
    assert wanted_kinds([], []) is None
    assert wanted_kinds(["mention"], []) == frozenset({"mention", "reply"})
    assert wanted_kinds(["favourite", "follow"], ["follow"]) == frozenset({"like"})
    assert wanted_kinds([], ["mention", "favourite"]) == frozenset({"follow"})
    assert wanted_kinds(["status", "reblog", "poll"], []) == frozenset()  # chirp never makes these
    assert wanted_kinds([], ["reblog", "nonsense"]) == frozenset({"mention", "reply", "like", "follow"})


def test_marker_bodies_as_json_or_form() -> None:
    assert marker_ids({"home": {"last_read_id": "12"}, "notifications": {"last_read_id": 13}}) == {
        "home": "12", "notifications": "13",
    }  # fmt: skip
    assert marker_ids({"notifications[last_read_id]": "5", "lists[last_read_id]": "1"}) == {"notifications": "5"}
    assert marker_ids({}) == {}
    with pytest.raises(HTTPException) as bad:
        marker_ids({"home": {"last_read_id": "not an id"}})
    assert bad.value.status_code == 422


def test_tag_json_has_history_as_strings() -> None:
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    tag = tag_json(BASE, "Chirp", [(midnight, 12, 3)])
    assert tag == {"name": "Chirp", "url": f"{BASE}/tags/chirp",
                   "history": [{"day": str(int(midnight.timestamp())), "uses": "12", "accounts": "3"}]}  # fmt: skip
    TagOut.model_validate(tag)


def _pushed(raw: bytes) -> dict[str, object]:
    parsed: dict[str, object] = orjson.loads(raw)
    return parsed


def test_pushed_update_becomes_a_status_json_string() -> None:
    view = TweetView(41, 8, "hi @Ada #Tag", T, reply_to=40, media=(Media("https://cdn.example/a.png", "image"),),
                     like_count=2, author=BOB)  # fmt: skip
    msg = _pushed(update_message(view))
    assert pushed_handles(msg) == ["ada"]
    name, payload = mastodon_event(msg, BASE, {"ada": 7}) or ("", "")
    status = orjson.loads(payload)
    assert name == "update" and Status.model_validate(status)
    assert status["id"] == "41" and status["in_reply_to_id"] == "40" and status["account"]["username"] == "bob"
    assert status["created_at"] == "2026-03-01T12:00:05.123Z" and status["favourites_count"] == 2
    assert status["mentions"] == [{"id": "7", "username": "Ada", "acct": "Ada", "url": f"{BASE}/@Ada"}]
    assert status["media_attachments"][0]["url"] == "https://cdn.example/a.png"
    edited = _pushed(message("edit", "", tweet_json(view)))
    assert (mastodon_event(edited, BASE, {}) or ("",))[0] == "status.update"


def test_pushed_delete_and_notification() -> None:
    assert mastodon_event(_pushed(delete_message(41)), BASE, {}) == ("delete", "41")
    tweet = TweetView(41, 7, "mine", T, author=ADA)
    note = notification_json(Notification(7, 99, "like", 8, 41, T), BOB, tweet, False)
    msg = _pushed(message("notification", "x", note))
    assert pushed_handles(msg) == []
    name, payload = mastodon_event(msg, BASE, {}) or ("", "")
    out = orjson.loads(payload)
    assert name == "notification" and NotificationOut.model_validate(out)
    assert out["type"] == "favourite" and out["account"]["id"] == "8" and out["status"]["account"]["id"] == "7"
    follow = notification_json(Notification(7, 100, "follow", 8, None, T), BOB, None, True)
    out = orjson.loads((mastodon_event(_pushed(message("notification", "", follow)), BASE, {}) or ("", ""))[1])
    assert out["type"] == "follow" and out["status"] is None and out["group_key"] == "ungrouped-100"
    assert mastodon_event({"event": "heartbeat", "data": {}}, BASE, {}) is None


def test_edit_head_is_completed_by_the_push_script_and_rendered_with_the_stored_tweet() -> None:
    head = edit_head(41, "new text", T)
    msg = _pushed(head + b'{"user_id":"8","handle":"bob","display_name":"Bob"}}}')
    assert msg == {"event": "edit", "id": "", "data": {"tweet_id": "41", "content": "new text",
                   "edited_at": "2026-03-01T12:00:05.123456Z",
                   "author": {"user_id": "8", "handle": "bob", "display_name": "Bob"}}}  # fmt: skip
    stored = _pushed(message("x", "", tweet_json(TweetView(41, 8, "old text", T, author=BOB))))["data"]
    assert isinstance(stored, dict)
    full = {"event": "edit", "data": {**stored, "content": "new text", "edited_at": "2026-03-01T12:00:06Z"}}
    name, payload = mastodon_event(full, BASE, {}) or ("", "")
    status = orjson.loads(payload)
    assert name == "status.update" and status["content"] == "<p>new text</p>"
    assert status["edited_at"] == "2026-03-01T12:00:06.000Z" and status["created_at"] == "2026-03-01T12:00:05.123Z"
