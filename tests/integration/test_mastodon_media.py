"""Mastodon's media routes with the real S3Proxy: a multipart upload as Mastodon clients send it, the bytes read
back from the answered `url` (storage's, never the API's), rejections in Mastodon's error shape, the description
changed, and Mastodon.py 2.3.3's `media_post` against a real API process."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from mastodon import Mastodon
from PIL import Image

from api.media import RedisUploads, resolve_media
from infra import redisnodes
from infra.settings import Settings
from schemas.events import Media
from tests.integration.support import WorkerProcess, register, wait_idle

pytestmark = pytest.mark.integration


def picture(fmt: str = "PNG", size: tuple[int, int] = (120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, fmt)
    return out.getvalue()


def test_upload_read_back_from_storage_and_describe(api: TestClient, settings: Settings, uniq: str) -> None:
    uid, auth = register(api, f"mm_{uniq}")
    jpeg = picture("JPEG")
    r = api.post("/api/v2/media", headers=auth, files={"file": ("photo.jpg", jpeg, "image/jpeg")},
                 data={"description": "an orange card", "focus": "-0.5,0.5"})  # fmt: skip
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["url"].startswith(f"{settings.s3_endpoint}/{settings.s3_bucket}/{uid}/{m['id']}-")
    assert m["type"] == "image" and m["description"] == "an orange card"
    assert m["meta"]["original"]["width"] == 120 and m["meta"]["focus"] == {"x": -0.5, "y": 0.5}
    got = httpx.get(m["url"])  # no credentials: clients read media straight from storage
    assert got.status_code == 200 and got.content == jpeg and got.headers["content-type"] == "image/jpeg"

    r = api.put(f"/api/v1/media/{m['id']}", headers=auth, data={"description": "now described anew"})
    assert r.status_code == 200 and r.json()["description"] == "now described anew", r.text
    assert api.get(f"/api/v1/media/{m['id']}", headers=auth).json()["description"] == "now described anew"

    # media_ids of a later status resolve to chirp's Media records
    async def resolve() -> tuple[Media, ...]:
        nodes = await redisnodes.open_nodes(settings)  # one Redis, or a cluster (make test-cluster-suite)
        try:
            return await resolve_media(RedisUploads(nodes.client, settings.redis_prefix), int(uid), [int(m["id"])],
                                       settings.media_base)  # fmt: skip
        finally:
            await nodes.aclose()

    media = asyncio.run(resolve())
    assert media[0].url == m["url"] and media[0].alt_text == "now described anew" and media[0].type == "image"

    r = api.post("/api/v1/media", headers=auth, files={"file": ("notes.txt", b"plain words", "text/plain")})
    assert r.status_code == 422 and r.json()["error"].startswith("Validation failed: file: "), r.text
    big = picture("PNG", (1400, 1400)) + b"\0" * (5 << 20)  # a PNG past the 5 MiB image limit
    r = api.post("/api/v2/media", headers=auth, files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 422 and "over the image limit" in r.json()["error"], r.text


def test_mastodon_py_media_post_then_fetch_its_url(
    base_url: str, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    client_id, secret = Mastodon.create_app(
        "chirp media test", scopes=["read", "write", "follow", "push"], api_base_url=base_url
    )
    app: Any = Mastodon(client_id=client_id, client_secret=secret, api_base_url=base_url, request_timeout=30)
    app.create_account(f"mp{uniq}", "a long password", f"mp{uniq}@mail.example", agreement=True)
    png = picture()
    media = app.media_post(io.BytesIO(png), mime_type="image/png", description="from Mastodon.py",
                           file_name="card.png", synchronous=True)  # fmt: skip
    assert media.type == "image" and media.description == "from Mastodon.py"
    assert media.url.startswith(settings.media_base) and not media.url.startswith(base_url)
    assert httpx.get(media.url).content == png
    assert app.media(media.id).url == media.url
    assert app.media_update(media.id, description="updated").description == "updated"
    posted = app.status_post("a card", media_ids=[media.id])
    assert [m.id for m in posted.media_attachments] == [media.id]
    wait_idle(settings, worker)  # the status is on the read side
    # an edit that names the status's attachments again, as Mastodon's web client sends it, keeps them
    edited = app.status_update(posted.id, "a card, edited", media_ids=[media.id])
    assert edited.content == "<p>a card, edited</p>" and [m.id for m in edited.media_attachments] == [media.id]
