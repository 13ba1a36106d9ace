"""Media end to end with the real S3Proxy (`chirp up` starts it): chirp's own upload (a URL presigned by
botocore, the bytes PUT straight to storage and read back from the media URL, never through the API), a tweet
naming it, and the media URL and alt text on every read."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from infra.objectstore import ObjectStore
from infra.settings import Settings
from tests.integration.support import WorkerProcess, register, timeline, wait_idle

pytestmark = pytest.mark.integration


def test_presigned_upload_to_storage_then_a_tweet_shows_it(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    uid, auth = register(api, f"med_{uniq}")
    gif = b"GIF89a" + bytes(range(256)) * 40
    r = api.post("/media", headers=auth, json={"type": "gif", "content_type": "image/gif",
                                               "size_bytes": len(gif), "alt_text": "a dancing cat"})  # fmt: skip
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["url"] == settings.media_base + up["key"] and up["key"].startswith(f"{uid}/{up['media_id']}-")
    assert up["url"].startswith(settings.s3_endpoint)  # storage's URL, not the API's
    target = up["upload"]
    assert target["url"].startswith(f"{settings.s3_endpoint}/{settings.s3_bucket}/")

    # Storage takes only what was signed: another size or type is refused.
    longer = {**target["headers"], "Content-Length": str(len(gif) + 1)}
    assert httpx.put(target["url"], content=gif + b"x", headers=longer).status_code == 403
    png = {**target["headers"], "Content-Type": "image/png"}
    assert httpx.put(target["url"], content=gif, headers=png).status_code == 403
    assert httpx.get(up["url"]).status_code in (403, 404)  # nothing stored yet
    put = httpx.put(target["url"], content=gif, headers=target["headers"])
    assert put.status_code == 200, put.text
    got = httpx.get(up["url"])  # anonymous, straight from storage
    assert got.status_code == 200 and got.content == gif and got.headers["content-type"] == "image/gif"
    assert ObjectStore(settings).get(up["key"]) == gif

    body = {"user_id": uid, "content": "look", "media": [{"media_id": up["media_id"]}]}
    r = api.post("/tweets", headers=auth, json=body)
    assert r.status_code == 201, r.text
    tweet_id = r.json()["tweet_id"]
    wait_idle(settings, worker)
    want = [{"url": up["url"], "type": "gif", "alt_text": "a dancing cat", "size_bytes": len(gif)}]
    assert api.get(f"/tweets/{tweet_id}").json()["media"] == want
    assert [t["media"] for t in timeline(api, uid, auth) if t["tweet_id"] == tweet_id] == [want]
    assert api.get(f"/users/{uid}/tweets").json()["tweets"][0]["media"] == want

    r = api.post("/media", headers=auth, json={"type": "video", "content_type": "image/gif", "size_bytes": 5})
    assert r.status_code == 422 and "not allowed for video" in r.text
    r = api.post("/media", headers=auth, json={"type": "image", "content_type": "image/png", "size_bytes": 6 << 20})
    assert r.status_code == 422 and "limit" in r.text


def test_without_storage_there_is_no_upload_route(settings: Settings, uniq: str) -> None:
    from api.app import create_app
    from api.render import set_media_base

    try:
        with TestClient(create_app(settings.model_copy(update={"s3_endpoint": ""}))) as api:
            _, auth = register(api, f"nos_{uniq}")
            body = {"type": "image", "content_type": "image/jpeg", "size_bytes": 10}
            assert api.post("/media", headers=auth, json=body).status_code == 404
            assert "/media" not in api.get("/openapi.json").json()["paths"]
            r = api.post("/api/v2/media", headers=auth, files={"file": ("a.png", b"x", "image/png")})
            assert r.status_code == 422 and r.json() == {"error": "Media uploads are not configured here"}
    finally:
        set_media_base(settings.media_base)  # one per process: the session's API serves the configured one
