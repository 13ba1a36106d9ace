"""Media end to end: an upload through a real API configured with S3-compatible storage (only URLs are
signed; no bytes are sent), a tweet naming it, and the CDN URL and alt text on every read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import Settings
from tests.integration.support import WorkerProcess, register, timeline, wait_idle

pytestmark = pytest.mark.integration

CDN = "https://cdn.example.com/media/"


@pytest.fixture(scope="module")
def media_api(settings: Settings) -> Iterator[TestClient]:
    s = settings.model_copy(
        update={"s3_endpoint": "http://127.0.0.1:9000", "s3_bucket": "chirp-media", "s3_access_key": "AKIDTEST",
                "s3_secret_key": "test-secret", "media_base_url": CDN}
    )  # fmt: skip
    with TestClient(create_app(s)) as client:
        yield client


def test_upload_then_tweet_shows_the_cdn_url_and_alt_text(
    media_api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    uid, auth = register(media_api, f"med_{uniq}")
    r = media_api.post("/media", headers=auth, json={"type": "gif", "content_type": "image/gif",
                                                     "size_bytes": 90_000, "alt_text": "a dancing cat"})  # fmt: skip
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["url"] == CDN + up["key"] and up["key"].startswith(f"{uid}/")
    assert "X-Amz-Signature=" in up["upload"]["url"] and up["upload"]["method"] == "PUT"
    body = {"user_id": uid, "content": "look", "media": [{"media_id": up["media_id"]}]}
    r = media_api.post("/tweets", headers=auth, json=body)
    assert r.status_code == 201, r.text
    tweet_id = r.json()["tweet_id"]
    wait_idle(settings, worker)
    want = [{"url": CDN + up["key"], "type": "gif", "alt_text": "a dancing cat", "size_bytes": 90_000}]
    assert media_api.get(f"/tweets/{tweet_id}").json()["media"] == want
    assert [t["media"] for t in timeline(media_api, uid, auth) if t["tweet_id"] == tweet_id] == [want]
    assert media_api.get(f"/users/{uid}/tweets").json()["tweets"][0]["media"] == want

    r = media_api.post("/media", headers=auth, json={"type": "video", "content_type": "image/gif", "size_bytes": 5})
    assert r.status_code == 422 and "not allowed for video" in r.text
    r = media_api.post("/media", headers=auth, json={"type": "image", "content_type": "image/png",
                                                     "size_bytes": 6 << 20})  # fmt: skip
    assert r.status_code == 422 and "limit" in r.text


def test_without_storage_there_is_no_upload_route(api: TestClient, uniq: str) -> None:
    _, auth = register(api, f"nos_{uniq}")
    r = api.post("/media", headers=auth, json={"type": "image", "content_type": "image/jpeg", "size_bytes": 10})
    assert r.status_code == 404
    assert "/media" not in api.get("/openapi.json").json()["paths"]
