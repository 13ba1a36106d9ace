"""The Mastodon-compatible client API: a second face on chirp's commands, events and read models, so that
Mastodon apps and libraries work with chirp. One router per resource; entities in api/mastodon/models.py are
built by projections/mastodon_wire.py; errors take Mastodon's `{"error": ...}` shape (errors.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.mastodon import (
    accounts,
    apps,
    firstscreen,
    instance,
    media,
    notifications,
    oauth,
    search,
    statuses,
    streaming,
    timelines,
)
from api.mastodon.models import AccountIn, AppIn, RevokeIn, TokenIn

ROUTERS: list[APIRouter] = [
    instance.router,
    apps.router,
    oauth.router,
    accounts.router,
    media.router,
    statuses.router,
    timelines.router,
    notifications.router,
    search.router,
    streaming.router,
    firstscreen.router,
]
UPLOAD_PATHS = media.UPLOAD_PATHS  # file uploads: a larger body limit (api/app.py)
BODIES: list[type[BaseModel]] = [
    AppIn,
    TokenIn,
    RevokeIn,
    AccountIn,
    oauth.AuthorizeIn,
    statuses.StatusIn,
]  # form-or-JSON bodies, named in openapi_extra
TAGS = [
    {"name": "mastodon: instance", "description": "Mastodon API: the instance, OAuth metadata, NodeInfo, WebFinger."},
    {"name": "mastodon: apps", "description": "Mastodon API: client applications."},
    {"name": "mastodon: oauth", "description": "Mastodon API: OAuth 2 (authorization code with PKCE, password, "
     "client credentials) and revocation."},
    {"name": "mastodon: accounts", "description": "Mastodon API: registration, accounts, follows, relationships."},
    {"name": "mastodon: statuses", "description": "Mastodon API: post, read, edit and delete statuses; context, "
     "edit history, favourites."},
    {"name": "mastodon: timelines", "description": "Mastodon API: the home, public and hashtag timelines."},
    {"name": "mastodon: notifications", "description": "Mastodon API: notifications and read markers."},
    {"name": "mastodon: search and trends", "description": "Mastodon API: search (v2) and trending hashtags."},
    {"name": "mastodon: streaming", "description": "Mastodon API: the user's stream, over Server-Sent Events "
     "and the WebSocket at /api/v1/streaming (not in this schema: OpenAPI has no WebSockets)."},
    {"name": "mastodon: first screens", "description": "Mastodon API: what clients fetch on their first "
     "screens; empty where chirp has no such feature."},
    {"name": "mastodon: media", "description": "Mastodon API: uploads, stored in S3-compatible storage and read "
     "from there (or the CDN), never through the API."},
]  # fmt: skip


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the bodies the routes read themselves to the schema's components: `<Model>` for JSON, and
    `<Model>Form` for forms, which cannot carry a null (a field is sent or left out)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in BODIES:
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
        components[f"{model.__name__}Form"] = {**found, "properties": {
            name: _without_null(prop) for name, prop in found.get("properties", {}).items()}}  # fmt: skip
    return schema


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    variants = [v for v in prop.get("anyOf", []) if v != {"type": "null"}]
    if not variants or len(variants) == len(prop["anyOf"]):
        return prop
    rest = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest, **variants[0]} if len(variants) == 1 else {**rest, "anyOf": variants}
