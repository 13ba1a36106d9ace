"""What POST /api/v1/statuses takes (api/mastodon/statuses.py's StatusIn), as forms and JSON send it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import HTTPException

from api.mastodon.params import validate
from api.mastodon.statuses import StatusIn, _check_extras


def test_forms_and_json_read_alike() -> None:
    form = validate(StatusIn, {"status": " hi ", "media_ids": "7251846523904100", "sensitive": "false",
                               "visibility": "public", "language": "en", "unknown": "x"})  # fmt: skip
    assert form.media_ids == ["7251846523904100"] and form.sensitive is False and form.visibility == "public"
    body = validate(StatusIn, {"status": "hi", "media_ids": ["1", "2"], "in_reply_to_id": "7251846523904001"})
    assert body.media_ids == ["1", "2"] and body.in_reply_to_id == "7251846523904001"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"status": ""}, "status"),
        ({"status": "x" * 281}, "status"),
        ({"status": "x", "visibility": "private"}, "visibility"),
        ({"status": "x", "visibility": "direct"}, "visibility"),
        ({"status": "x", "spoiler_text": "a warning"}, "spoiler_text"),
        ({"status": "x", "media_ids": ["1"] * 5}, "media_ids"),
        ({"status": "x", "media_ids": ["abc"]}, "media_ids"),
        ({"status": "x", "in_reply_to_id": "0"}, "in_reply_to_id"),
    ],
)
def test_what_chirp_cannot_keep_is_refused(data: dict[str, Any], says: str) -> None:
    with pytest.raises(HTTPException) as err:
        validate(StatusIn, data)
    assert err.value.status_code == 422 and says in str(err.value.detail)


def test_sensitive_media_are_refused_and_sensitive_text_is_not() -> None:
    _check_extras(validate(StatusIn, {"status": "x", "sensitive": "1"}))
    with pytest.raises(HTTPException):
        _check_extras(validate(StatusIn, {"status": "x", "sensitive": "true", "media_ids": ["1"]}))
