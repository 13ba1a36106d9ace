"""The instance as Mastodon clients see it: its public base URL and domain, its version string, its limits."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from starlette.requests import HTTPConnection

from api.media import LIMITS
from api.models import MAX_CONTENT, MAX_MEDIA
from infra.settings import Settings

MASTODON_VERSION = (
    "4.3.0"  # the Mastodon API chirp answers as (api_versions.mastodon stays 1: no grouped notifications)
)


def chirp_version() -> str:
    try:
        return metadata.version("chirp")
    except metadata.PackageNotFoundError:
        return "0.1.0"


VERSION = f"{MASTODON_VERSION} (compatible; chirp {chirp_version()})"


WEB_SCHEME = {"ws": "http", "wss": "https"}


def base_url(conn: HTTPConnection, settings: Settings) -> str:
    """CHIRP_PUBLIC_URL, else the scheme and Host the request came with (a trusted proxy's, via uvicorn). A
    WebSocket's `ws`/`wss` becomes `http`/`https`: statuses pushed over it link to pages and avatars, not sockets."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = conn.headers.get("host") or conn.url.netloc
    scheme = WEB_SCHEME.get(conn.url.scheme, conn.url.scheme)
    return f"{scheme}://{host}"


def domain(base: str) -> str:
    return base.split("://", 1)[-1].split("/", 1)[0]


def streaming_url(base: str) -> str:
    scheme, _, rest = base.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest.split("/", 1)[0]


def statuses_limits() -> dict[str, int]:
    return {"max_characters": MAX_CONTENT, "max_media_attachments": MAX_MEDIA, "characters_reserved_per_url": 23}


def upload_limit(settings: Settings, media_type: str) -> int:
    """The largest file of a type POST /api/v1|v2/media takes: the type's own limit, within what the API carries."""
    return min(LIMITS[media_type][1], settings.media_upload_max_bytes)


def media_limits(settings: Settings) -> dict[str, Any]:
    """What clients are told of uploads (GIFs, which Mastodon counts as images, may be larger: 15 MiB)."""
    return {
        "supported_mime_types": sorted(t for types, _ in LIMITS.values() for t in types)
        if settings.media_storage
        else [],
        "image_size_limit": upload_limit(settings, "image"),
        "image_matrix_limit": 16_777_216,
        "video_size_limit": upload_limit(settings, "video"),
        "video_frame_rate_limit": 60,
        "video_matrix_limit": 8_294_400,
        "description_limit": 1000,
    }


POLLS = {"max_options": 0, "max_characters_per_option": 0, "min_expiration": 300, "max_expiration": 2_629_746}
