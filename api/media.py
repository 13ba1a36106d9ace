"""Media uploads: the limits, unguessable object keys namespaced by user, and the short-lived record of an
upload that a tweet then references by `media_id` (`resolve_media`).

Two ways in, one storage (infra/objectstore.py): chirp's own POST /media hands the client a presigned PUT
(signed by botocore) to send the bytes straight to S3-compatible storage; Mastodon's POST /api/v1|v2/media takes
the file and stores it. Either way readers fetch media from storage or the CDN (`CHIRP_MEDIA_BASE_URL` + key),
never through the API.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from projections.stores import keys
from schemas.events import Media

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


def media_type_of(content_type: str) -> str | None:
    """chirp's media type (image, gif, video) of a content type it takes, or None."""
    return next((kind for kind, (types, _) in LIMITS.items() if content_type in types), None)


def new_key(user_id: int, content_type: str, media_id: int | None = None) -> str:
    """`<user>/<media id>-<128 random bits>.<ext>`: nobody can guess another's objects, each user's are together,
    and the key names its upload (so a status shows an attachment under the id it was uploaded as)."""
    ext = next(types[content_type] for types, _ in LIMITS.values() if content_type in types)
    named = "" if media_id is None else f"{media_id}-"
    return f"{user_id}/{named}{secrets.token_urlsafe(16)}.{ext}"


@dataclass(frozen=True)
class Upload:
    """What a tweet gets when it names a `media_id`."""

    owner: int
    key: str
    type: str
    content_type: str
    size_bytes: int
    alt_text: str | None
    # Known for uploads through the Mastodon API (stored by chirp): the image's size, the focal point "x,y".
    width: int | None = None
    height: int | None = None
    focus: str | None = None


class Uploads(Protocol):
    """Uploads not yet attached, by media_id, for a limited time (`CHIRP_MEDIA_UPLOAD_TTL_S`)."""

    async def save(self, media_id: int, upload: Upload, ttl_s: int) -> None: ...
    async def get(self, media_id: int) -> Upload | None: ...
    async def replace(self, media_id: int, upload: Upload) -> bool:
        """Rewrites a record that still exists, keeping its expiry; False when it has expired."""
        ...


class UnknownMedia(LookupError):
    """A media id that is not an upload of this user's (never made, someone else's, or expired)."""

    def __init__(self, index: int, media_id: int) -> None:
        super().__init__(f"no upload {media_id} of yours (unknown, or expired)")
        self.index = index
        self.media_id = media_id


def upload_media(up: Upload, base: str, alt_text: str | None = None) -> Media:
    """The Media a tweet carries for an upload (alt text given anew, else the upload's)."""
    return Media(base + up.key, up.type, alt_text if alt_text is not None else up.alt_text, up.size_bytes, up.key)


async def resolve_media(uploads: Uploads, owner: int, media_ids: Sequence[int], base: str) -> tuple[Media, ...]:
    """The Media records a post by `owner` carries for the uploads it names (`media_ids` of Mastodon's
    POST /api/v1/statuses, `media[].media_id` of POST /tweets), in order; `base` is the media base URL
    (`projections.wire.media_base()`). Raises UnknownMedia for an id that is not one of owner's live uploads."""
    found = []
    for i, media_id in enumerate(media_ids):
        up = await uploads.get(media_id)
        if up is None or up.owner != owner:
            raise UnknownMedia(i, media_id)
        found.append(upload_media(up, base))
    return tuple(found)


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

    async def replace(self, media_id: int, upload: Upload) -> bool:
        return bool(await self.r.set(keys.upload(self.p, media_id), json.dumps(asdict(upload)), keepttl=True, xx=True))
