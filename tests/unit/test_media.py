"""Media: upload checks and keys, URLs presigned by botocore, the upload flow through the API with in-memory
fakes, and Mastodon's media routes (multipart uploads, the MediaAttachment, description updates, rejections)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.media import UnknownMedia, Upload, check_upload, new_key, resolve_media
from api.render import media_json, set_media_base
from infra.objectstore import ObjectStore
from infra.settings import Settings
from schemas.events import Media, TweetPosted
from tests.fakes.api import MemoryObjectStore, MemoryUploads, memory_wiring
from tests.fakes.eventlog import MemoryEventLog
from tests.unit.test_api_validation import register

CDN = "https://cdn.example.com/media/"
S3 = Settings(s3_endpoint="http://127.0.0.1:9000", s3_bucket="chirp-media", s3_access_key="AKIDEXAMPLE",
              s3_secret_key="secret", media_base_url=CDN, max_body_bytes=4096)  # fmt: skip


def test_upload_checks_and_keys() -> None:
    assert check_upload("image", "image/jpeg", 5 * 1024 * 1024) is None
    assert "limit" in (check_upload("image", "image/png", 5 * 1024 * 1024 + 1) or "")
    assert "not allowed for gif" in (check_upload("gif", "image/png", 10) or "")
    assert check_upload("video", "video/mp4", 100 * 1024 * 1024) is None
    a, b = new_key(42, "image/jpeg"), new_key(42, "image/jpeg")
    assert a != b and a.startswith("42/") and a.endswith(".jpg") and len(a.split("/")[1]) >= 22 + 4
    assert new_key(42, "image/png", 7001).startswith("42/7001-")


def test_a_signed_put_names_the_bucket_and_signs_type_length_and_acl() -> None:
    put = ObjectStore(S3).sign_put("42/abc.jpg", "image/jpeg", 1234, datetime(2026, 1, 1, tzinfo=UTC))
    u = urlsplit(put.url)
    assert (u.scheme, u.netloc, u.path) == ("http", "127.0.0.1:9000", "/chirp-media/42/abc.jpg")
    q = parse_qs(u.query)
    assert q["X-Amz-SignedHeaders"] == ["content-length;content-type;host;x-amz-acl"]
    assert q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and q["X-Amz-Expires"] == ["900"]
    assert q["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/") and q["X-Amz-Credential"][0].endswith(
        "/us-east-1/s3/aws4_request"
    )
    assert put.headers == {"Content-Type": "image/jpeg", "Content-Length": "1234", "x-amz-acl": "public-read"}
    assert put.expires_at == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
    no_acl = ObjectStore(S3.model_copy(update={"s3_object_acl": ""})).sign_put(
        "k.png", "image/png", 5, datetime.now(UTC)
    )
    assert (
        "x-amz-acl" not in no_acl.headers
        and "x-amz-acl" not in parse_qs(urlsplit(no_acl.url).query)["X-Amz-SignedHeaders"][0]
    )


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
    assert up["upload"]["headers"] == {"Content-Type": "image/jpeg", "Content-Length": "48213",
                                       "x-amz-acl": "public-read"}  # fmt: skip
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
    with client_with(Settings(max_body_bytes=4096, s3_endpoint=""), log) as c:
        _, auth = register(c)
        assert c.post("/media", headers=auth, json=body).status_code == 404  # no storage: no upload route
        assert "/media" not in c.get("/openapi.json").json()["paths"]


# Mastodon's media routes, over the in-memory fakes (tests/integration/test_mastodon_media.py: real storage) ------


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, fmt)
    return out.getvalue()


def stored(client: TestClient) -> dict[str, tuple[bytes, str]]:
    store = client.app.state.wiring.media_store  # type: ignore[attr-defined]
    assert isinstance(store, MemoryObjectStore)
    return store.objects


def test_mastodon_upload_stores_the_file_and_answers_a_media_attachment(client: TestClient) -> None:
    uid, auth = register(client)
    png = image_bytes()
    r = client.post("/api/v2/media", headers=auth, files={"file": ("cat.png", png, "image/png")},
                    data={"description": "a teal square", "focus": "0.5,-0.25"})  # fmt: skip
    assert r.status_code == 200, r.text
    m = r.json()
    key = m["url"].removeprefix(CDN)
    assert m["url"] == CDN + key and key.startswith(f"{uid}/{m['id']}-") and key.endswith(".png")
    assert (m["type"], m["description"], m["preview_url"]) == ("image", "a teal square", m["url"])
    assert m["meta"]["original"] == {"width": 64, "height": 48, "size": "64x48", "aspect": 1.333333}
    assert m["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert stored(client)[key] == (png, "image/png")

    # The declared type is not trusted: the bytes say JPEG.
    r = client.post("/api/v1/media", headers=auth, files={"file": ("x.png", image_bytes("JPEG"), "image/png")})
    assert r.status_code == 200 and r.json()["url"].endswith(".jpg"), r.text

    # GET and PUT (description, focus) by the owner; another user sees nothing.
    r = client.put(f"/api/v1/media/{m['id']}", headers=auth, data={"description": "now blue", "focus": "0,0"})
    assert r.status_code == 200 and r.json()["description"] == "now blue", r.text
    assert r.json()["meta"]["focus"] == {"x": 0.0, "y": 0.0}
    assert client.get(f"/api/v1/media/{m['id']}", headers=auth).json()["description"] == "now blue"
    _, other = register(client, "bob_b")
    assert client.get(f"/api/v1/media/{m['id']}", headers=other).status_code == 404
    assert client.put(f"/api/v1/media/{m['id']}", headers=other, json={"description": "mine"}).status_code == 404
    assert client.get("/api/v1/media/999", headers=auth).json() == {"error": "Record not found"}
    assert client.post("/api/v2/media", files={"file": ("a.png", png, "image/png")}).status_code == 401


@pytest.mark.parametrize(
    ("file", "form", "says"),
    [
        (("a.txt", b"hello there", "text/plain"), {}, "is not an image or video"),
        (("a.png", b"not a png at all", "image/png"), {}, "is not an image or video"),
        (("a.bmp", b"", "image/bmp"), {}, "is empty"),
        (("a.png", b"", "image/png"), {"focus": "2,0"}, "focus"),
        (("a.png", b"", "image/png"), {"description": "x" * 1001}, "description"),
        (None, {"description": "no file"}, "file: can't be blank"),
    ],
)
def test_mastodon_upload_rejections_are_422_in_mastodons_shape(
    client: TestClient, file: tuple[str, bytes, str] | None, form: dict[str, str], says: str
) -> None:
    _, auth = register(client)
    if file is not None and file[1] == b"" and file[2] == "image/png":
        file = (file[0], image_bytes(), file[2])
    files = {"file": file} if file is not None else {"other": ("x", b"x", "text/plain")}
    r = client.post("/api/v2/media", headers=auth, files=files, data=form)
    assert r.status_code == 422, r.text
    assert list(r.json()) == ["error"] and r.json()["error"].startswith("Validation failed: ") and says in r.text
    assert not stored(client)


def test_mastodon_upload_size_limits(log: MemoryEventLog) -> None:
    """Each type's limit within CHIRP_MEDIA_UPLOAD_MAX_BYTES: over the type's, 422; over the body cap, 413."""
    png = image_bytes(size=(600, 600))
    small = S3.model_copy(update={"media_upload_max_bytes": len(png) - 1})
    with client_with(small, log) as c:
        _, auth = register(c)
        r = c.post("/api/v2/media", headers=auth, files={"file": ("a.png", png, "image/png")})
        assert r.status_code == 422 and "over the limit" in r.json()["error"], r.text
        huge = b"\0" * (len(png) + 70_000)
        r = c.post("/api/v2/media", headers=auth, files={"file": ("a.png", huge, "image/png")})
        assert r.status_code == 413 and "larger than" in r.json()["error"], r.text
        limits = c.get("/api/v2/instance").json()["configuration"]["media_attachments"]
        assert limits["image_size_limit"] == len(png) - 1 and "image/png" in limits["supported_mime_types"]


async def test_media_ids_resolve_to_the_users_media_records() -> None:
    uploads = MemoryUploads()
    await uploads.save(5, Upload(42, "42/5-abc.png", "image", "image/png", 10, "alt"), 60)
    await uploads.save(6, Upload(7, "7/6-def.png", "image", "image/png", 10, None), 60)
    assert await resolve_media(uploads, 42, [5], CDN) == (Media(CDN + "42/5-abc.png", "image", "alt", 10,
                                                                "42/5-abc.png"),)  # fmt: skip
    for bad in ([6], [5, 99]):
        with pytest.raises(UnknownMedia) as info:
            await resolve_media(uploads, 42, bad, CDN)
        assert info.value.media_id == bad[-1] and info.value.index == len(bad) - 1


def test_a_status_shows_an_upload_under_its_media_id() -> None:
    from projections.mastodon_wire import media_attachment_json

    set_media_base(CDN)
    shown = media_attachment_json(900, 0, Media("", "gif", "dancing", 10, "42/7001-abc.gif"))
    assert (shown["id"], shown["type"], shown["url"]) == ("7001", "image", CDN + "42/7001-abc.gif")
    assert media_attachment_json(900, 1, Media("https://x.example/a.jpg", "image"))["id"] == "90001"
