"""Media uploads: the limits, unguessable object keys namespaced by user, presigned PUT URLs, and the
short-lived record of an upload that a tweet then references by `media_id`.

The API never touches media bytes: the client PUTs them straight to S3-compatible storage with the URL
handed out here, and readers fetch them from the CDN (`CHIRP_MEDIA_BASE_URL` + key).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from api.presign import presign, uri_encode
from infra.settings import Settings
from projections.stores import keys

MAX_ALT_TEXT = 1000  # as on Twitter
# type -> (content types with the key's extension, the largest size in bytes); Twitter's limits
LIMITS: dict[str, tuple[dict[str, str], int]] = {
    "image": ({"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}, 5 * 1024 * 1024),
    "gif": ({"image/gif": "gif"}, 15 * 1024 * 1024),
    "video": ({"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}, 512 * 1024 * 1024),
}


def check_upload(type_: str, content_type: str, size_bytes: int) -> str | None:
    """What is wrong with an upload of this type, content type and size, or None."""
    types, largest = LIMITS[type_]
    if content_type not in types:
        return f"content_type {content_type!r} is not allowed for {type_}; use one of {', '.join(types)}"
    if size_bytes > largest:
        return f"size_bytes {size_bytes} is over the {type_} limit of {largest} bytes"
    return None


def new_key(user_id: int, content_type: str) -> str:
    """`<user>/<128 random bits>.<ext>`: nobody can guess another's objects, and each user's are together."""
    ext = next(types[content_type] for types, _ in LIMITS.values() if content_type in types)
    return f"{user_id}/{secrets.token_urlsafe(16)}.{ext}"


@dataclass(frozen=True)
class Upload:
    """What a tweet gets when it names a `media_id`."""

    owner: int
    key: str
    type: str
    content_type: str
    size_bytes: int
    alt_text: str | None


@dataclass(frozen=True)
class SignedPut:
    url: str
    headers: dict[str, str]
    expires_at: datetime


def sign_put(settings: Settings, key: str, content_type: str, size_bytes: int, now: datetime) -> SignedPut:
    """A presigned PUT of `key` (path style). Content-Type and Content-Length are signed, so storage takes
    only an object of the declared type and size."""
    endpoint = urlsplit(settings.s3_endpoint)
    path = f"{endpoint.path.rstrip('/')}/{settings.s3_bucket}/{key}"
    headers = {"Content-Type": content_type, "Content-Length": str(size_bytes)}
    ttl = settings.s3_presign_ttl_s
    query = presign(
        method="PUT", host=endpoint.netloc, path=path, region=settings.s3_region, access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key, at=now, expires_s=ttl, headers=headers,
    )  # fmt: skip
    url = f"{endpoint.scheme}://{endpoint.netloc}{uri_encode(path, True)}?{query}"
    return SignedPut(url, headers, now + timedelta(seconds=ttl))


class Uploads(Protocol):
    """Uploads not yet attached, by media_id, for a limited time (`CHIRP_MEDIA_UPLOAD_TTL_S`)."""

    async def save(self, media_id: int, upload: Upload, ttl_s: int) -> None: ...
    async def get(self, media_id: int) -> Upload | None: ...


class RedisUploads:
    """One record per upload (`keys.upload`), JSON, expiring: command-side state, outside the read-model versions.
    Single-key commands only: a Redis Cluster's general client routes each to its node."""

    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str) -> None:
        self.r = client
        self.p = prefix

    async def save(self, media_id: int, upload: Upload, ttl_s: int) -> None:
        await self.r.set(keys.upload(self.p, media_id), json.dumps(asdict(upload)), ex=ttl_s)

    async def get(self, media_id: int) -> Upload | None:
        raw = await self.r.get(keys.upload(self.p, media_id))
        return Upload(**json.loads(raw)) if raw else None
