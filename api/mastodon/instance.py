"""Discovery: the instance (v1 and v2), the OAuth server's metadata, NodeInfo and WebFinger, and the default
avatar and header images that accounts point at."""

from __future__ import annotations

import struct
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from api.mastodon import scopes
from api.mastodon.errors import responses
from api.mastodon.models import InstanceV1, InstanceV2, Link, NodeInfo, NodeInfoLinks, OAuthServer, Webfinger
from api.mastodon.site import (
    POLLS,
    VERSION,
    base_url,
    chirp_version,
    domain,
    media_limits,
    statuses_limits,
    streaming_url,
)
from api.routers.reads import queries
from api.throttle import reader
from api.wiring import Wiring, wiring
from projections.mastodon_wire import AVATAR_PATH, HEADER_PATH, profile_url

router = APIRouter(tags=["mastodon: instance"])
W = Annotated[Wiring, Depends(wiring)]
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.0"
SOURCE = "https://github.com/chirp/chirp"


def _instance_v1(request: Request, w: Wiring) -> dict[str, Any]:
    s, base = w.settings, base_url(request, w.settings)
    return {
        "uri": domain(base),
        "title": s.instance_title,
        "short_description": s.instance_description,
        "description": s.instance_description,
        "email": s.instance_contact_email,
        "version": VERSION,
        "urls": {"streaming_api": streaming_url(base)},
        "stats": {"user_count": 0, "status_count": 0, "domain_count": 1},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": s.registrations_open,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {
            "accounts": {"max_featured_tags": 0},
            "statuses": statuses_limits(),
            "media_attachments": media_limits(s),
            "polls": POLLS,
        },
        "contact_account": None,
        "rules": [],
    }


@router.get("/api/v1/instance", dependencies=[reader()], response_model=InstanceV1, responses=responses(429),
            summary="The instance (Mastodon v1): version, streaming URL, limits")  # fmt: skip
async def instance_v1(request: Request, w: W) -> dict[str, Any]:
    return _instance_v1(request, w)


@router.get("/api/v2/instance", dependencies=[reader()], response_model=InstanceV2, responses=responses(429),
            summary="The instance (Mastodon v2): version, streaming URL, limits, registrations")  # fmt: skip
async def instance_v2(request: Request, w: W) -> dict[str, Any]:
    s, base = w.settings, base_url(request, w.settings)
    return {
        "domain": domain(base),
        "title": s.instance_title,
        "version": VERSION,
        "source_url": SOURCE,
        "description": s.instance_description,
        "usage": {"users": {"active_month": 0}},
        "thumbnail": {"url": base + AVATAR_PATH},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": streaming_url(base), "status": None},
            "vapid": {"public_key": ""},
            "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
            "statuses": statuses_limits(),
            "media_attachments": media_limits(s),
            "polls": POLLS,
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": s.registrations_open, "approval_required": False, "message": None, "url": None},
        "api_versions": {"mastodon": 1},
        "contact": {"email": s.instance_contact_email, "account": None},
        "rules": [],
    }


@router.get("/.well-known/oauth-authorization-server", response_model=OAuthServer,
            summary="OAuth 2 authorization server metadata (RFC 8414)")  # fmt: skip
async def oauth_server(request: Request, w: W) -> dict[str, Any]:
    base = base_url(request, w.settings)
    return {
        "issuer": base + "/",
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "revocation_endpoint": base + "/oauth/revoke",
        "app_registration_endpoint": base + "/api/v1/apps",
        "scopes_supported": sorted(scopes.KNOWN),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }


@router.get("/.well-known/nodeinfo", response_model=NodeInfoLinks, response_model_exclude_none=True,
            summary="Where the NodeInfo document is")  # fmt: skip
async def nodeinfo_links(request: Request, w: W) -> dict[str, Any]:
    return {"links": [{"rel": NODEINFO_SCHEMA, "href": base_url(request, w.settings) + "/nodeinfo/2.0"}]}


@router.get("/nodeinfo/2.0", response_model=NodeInfo, summary="NodeInfo 2.0: the software and its openness")
async def nodeinfo(w: W) -> dict[str, Any]:
    return {
        "version": "2.0",
        "software": {"name": "chirp", "version": chirp_version()},
        "protocols": [],  # chirp does not federate
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": w.settings.registrations_open,
        "usage": {"users": {}, "localPosts": 0},
        "metadata": {"nodeName": w.settings.instance_title},
    }


@router.get(
    "/.well-known/webfinger",
    dependencies=[reader()],
    response_model=Webfinger,
    response_model_exclude_none=True,
    responses={**responses(400, 404, 429), 200: {"content": {"application/jrd+json": {}}}},
    summary="WebFinger: an account's profile page from acct:user@domain",
)
async def webfinger(
    request: Request,
    w: W,
    resource: Annotated[
        str,
        Query(
            max_length=400,
            pattern=r"^(?:acct:)?@?[^@\x00-\x20]+@[^@\x00-\x20]+$|^https?://[^\x00-\x20]+$",
            examples=["acct:ada@chirp.example"],
        ),
    ],
) -> Response:
    base = base_url(request, w.settings)
    name = resource.removeprefix("acct:").removeprefix("@")
    user, at, host = name.partition("@")
    if resource.startswith(("https://", "http://")):
        user, host = resource.rstrip("/").rsplit("/", 1)[-1].removeprefix("@"), domain(resource)
    elif not at:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "resource must be acct:user@domain or a profile URL")
    found = await w.accounts.users_by_handle([user]) if host.lower() == domain(base).lower() else {}
    handle = None
    for user_id in found.values():  # the command side's record, so an account is found the moment it exists
        handle = await w.accounts.handle_of(user_id)
        if handle is None:
            users = await queries(w).users([user_id])
            handle = users[0].handle if users else None
    if handle is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {resource!r} here")
    page = profile_url(base, handle)
    link = Link(rel="http://webfinger.net/rel/profile-page", type="text/html", href=page)
    body = Webfinger(subject=f"acct:{handle}@{domain(base)}", aliases=[page], links=[link])
    return Response(body.model_dump_json(exclude_none=True), media_type="application/jrd+json")


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain one-colour PNG (the default avatar and header: no files to ship, no image library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


AVATAR = _png(120, 120, (0x9A, 0xA4, 0xB1))
HEADER = _png(300, 100, (0xD9, 0xE1, 0xE8))
IMAGE = {200: {"content": {"image/png": {}}, "description": "A PNG image."}}


@router.get(AVATAR_PATH, response_class=Response, responses=IMAGE, summary="The default avatar")  # type: ignore[arg-type]
async def avatar() -> Response:
    return Response(AVATAR, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


@router.get(HEADER_PATH, response_class=Response, responses=IMAGE, summary="The default profile header")  # type: ignore[arg-type]
async def header() -> Response:
    return Response(HEADER, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})
