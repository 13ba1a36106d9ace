"""Media: the SigV4 presigner against AWS's published example, upload checks and keys, and the upload flow
through the API with in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.media import check_upload, new_key, sign_put
from api.presign import presign
from api.render import media_json, set_media_base
from infra.settings import Settings
from schemas.events import Media, TweetPosted
from tests.fakes.api import memory_wiring
from tests.fakes.eventlog import MemoryEventLog
from tests.unit.test_api_validation import register

CDN = "https://cdn.example.com/media/"
S3 = Settings(s3_endpoint="http://127.0.0.1:9000", s3_bucket="chirp-media", s3_access_key="AKIDEXAMPLE",
              s3_secret_key="secret", media_base_url=CDN, max_body_bytes=4096)  # fmt: skip


def test_presigned_url_matches_the_aws_example() -> None:
    """ "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", the GET example."""
    query = presign(
        method="GET", host="examplebucket.s3.amazonaws.com", path="/test.txt", region="us-east-1",
        access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        at=datetime(2013, 5, 24, tzinfo=UTC), expires_s=86400,
    )  # fmt: skip
    q = parse_qs(query)
    assert q["X-Amz-Credential"] == ["AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"]
    assert q["X-Amz-Date"] == ["20130524T000000Z"] and q["X-Amz-SignedHeaders"] == ["host"]
    assert q["X-Amz-Signature"] == ["aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"]
    with pytest.raises(ValueError, match="expires_s"):
        presign(method="GET", host="h", path="/", region="r", access_key="a", secret_key="s",
                at=datetime(2013, 5, 24, tzinfo=UTC), expires_s=8 * 24 * 3600)  # fmt: skip


def test_upload_checks_and_keys() -> None:
    assert check_upload("image", "image/jpeg", 5 * 1024 * 1024) is None
    assert "limit" in (check_upload("image", "image/png", 5 * 1024 * 1024 + 1) or "")
    assert "not allowed for gif" in (check_upload("gif", "image/png", 10) or "")
    assert check_upload("video", "video/mp4", 100 * 1024 * 1024) is None
    a, b = new_key(42, "image/jpeg"), new_key(42, "image/jpeg")
    assert a != b and a.startswith("42/") and a.endswith(".jpg") and len(a.split("/")[1]) >= 22 + 4


def test_a_signed_put_names_the_bucket_and_signs_type_and_length() -> None:
    put = sign_put(S3, "42/abc.jpg", "image/jpeg", 1234, datetime(2026, 1, 1, tzinfo=UTC))
    u = urlsplit(put.url)
    assert (u.scheme, u.netloc, u.path) == ("http", "127.0.0.1:9000", "/chirp-media/42/abc.jpg")
    assert parse_qs(u.query)["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert put.headers == {"Content-Type": "image/jpeg", "Content-Length": "1234"}
    assert put.expires_at == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)


def test_media_urls_are_built_from_the_configured_base() -> None:
    set_media_base(CDN)
    assert media_json(Media("https://old.example/x.jpg", "image", None, 1, "42/x.jpg"))["url"] == CDN + "42/x.jpg"
    assert media_json(Media("https://elsewhere.example/y.png", "image"))["url"] == "https://elsewhere.example/y.png"
    assert Settings(s3_endpoint="http://s3:9000/", s3_bucket="b").media_base == "http://s3:9000/b/"
    assert Settings(media_base_url="https://cdn.example.com/m").media_base == "https://cdn.example.com/m/"


@pytest.fixture
def log() -> MemoryEventLog:
    return MemoryEventLog()


def client_with(settings: Settings, log: MemoryEventLog) -> TestClient:
    w = memory_wiring(settings, log)
    return TestClient(create_app(settings, w))


@pytest.fixture
def client(log: MemoryEventLog) -> Iterator[TestClient]:
    with client_with(S3, log) as c:
        yield c


def test_upload_then_tweet_with_it(client: TestClient, log: MemoryEventLog) -> None:
    uid, auth = register(client)
    r = client.post("/media", headers=auth, json={"type": "image", "content_type": "image/jpeg", "size_bytes": 48213,
                                                  "alt_text": "a cat"})  # fmt: skip
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["key"].startswith(f"{uid}/") and up["url"] == CDN + up["key"]
    assert up["upload"]["method"] == "PUT" and up["upload"]["url"].startswith("http://127.0.0.1:9000/chirp-media/")
    assert up["upload"]["headers"] == {"Content-Type": "image/jpeg", "Content-Length": "48213"}
    media = [{"media_id": up["media_id"]}]
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "look", "media": media})
    assert r.status_code == 201, r.text
    assert r.json()["media"] == [{"url": up["url"], "type": "image", "alt_text": "a cat", "size_bytes": 48213}]
    event = log.events[-1]
    assert isinstance(event, TweetPosted) and event.media[0].key == up["key"]

    other, other_auth = register(client, "bob_b")  # someone else's upload cannot be attached
    r = client.post("/tweets", headers=other_auth, json={"user_id": other, "content": "mine", "media": media})
    assert r.status_code == 404 and "no upload" in r.json()["detail"]
    bad = [{"media_id": up["media_id"], "type": "video"}]
    r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "x", "media": bad})
    assert r.status_code == 422 and "the upload is image" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"type": "image", "content_type": "image/jpeg", "size_bytes": 6 * 1024 * 1024}, "limit"),
        ({"type": "gif", "content_type": "image/png", "size_bytes": 10}, "not allowed"),
        ({"type": "sticker", "content_type": "image/png", "size_bytes": 10}, "type"),
        ({"type": "image", "content_type": "image/png", "size_bytes": 0}, "size_bytes"),
        ({"type": "image", "content_type": "image/png", "size_bytes": 10, "alt_text": "x" * 1001}, "alt_text"),
    ],
)
def test_bad_uploads_are_422(client: TestClient, log: MemoryEventLog, body: dict[str, object], says: str) -> None:
    _, auth = register(client)
    r = client.post("/media", headers=auth, json=body)
    assert r.status_code == 422 and says in r.text, r.text


def test_media_items_name_one_source(client: TestClient) -> None:
    uid, auth = register(client)
    both = {"url": "https://x.example/a.jpg", "media_id": "5", "type": "image"}
    for item in ({"type": "image"}, {"url": "https://x.example/a.jpg"}, both):
        r = client.post("/tweets", headers=auth, json={"user_id": uid, "content": "x", "media": [item]})
        assert r.status_code == 422, item


def test_uploads_need_a_token_and_configured_storage(log: MemoryEventLog) -> None:
    body = {"type": "image", "content_type": "image/jpeg", "size_bytes": 10}
    with client_with(S3, log) as c:
        assert c.post("/media", json=body).status_code == 401
    with client_with(Settings(max_body_bytes=4096), log) as c:
        _, auth = register(c)
        assert c.post("/media", headers=auth, json=body).status_code == 404  # no storage: no upload route
        assert "/media" not in c.get("/openapi.json").json()["paths"]
