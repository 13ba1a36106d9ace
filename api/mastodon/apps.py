"""Client applications: registration (POST /api/v1/apps) and what a token's application is."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from api.idempotency import Ids
from api.mastodon import scopes
from api.mastodon.auth import Caller, limited, scoped
from api.mastodon.errors import responses
from api.mastodon.models import OOB, URI_PATTERN, AppIn, Application, CredentialApplication
from api.mastodon.params import body_schema, params, validate
from api.throttle import reader
from api.wiring import Wiring, wiring
from infra.oauth import App, OAuthStore, new_secret

router = APIRouter(tags=["mastodon: apps"])
W = Annotated[Wiring, Depends(wiring)]
_URI = re.compile(f"^{URI_PATTERN}$")


def oauth_store(w: Wiring) -> OAuthStore:
    if w.oauth is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "OAuth is not connected")
    return w.oauth


def redirect_uris(value: str | list[str]) -> tuple[str, ...]:
    """The redirect URIs (newline separated or a list): `urn:ietf:wg:oauth:2.0:oob`, or absolute URIs with a
    scheme (https, or an app's own such as myapp:/callback) and no fragment. ValueError otherwise."""
    lines = (u.strip(" \t\r") for v in ([value] if isinstance(value, str) else value) for u in v.split("\n"))
    found = [u for u in lines if u]
    if not found:
        raise ValueError("redirect_uris: at least one is needed (urn:ietf:wg:oauth:2.0:oob to show the code)")
    for uri in found:
        if uri != OOB and (not _URI.fullmatch(uri) or uri.lower().startswith(("javascript:", "data:"))):
            raise ValueError(f"redirect_uris: {uri!r} is not an absolute URI without a fragment")
    return tuple(dict.fromkeys(found))


def application_json(app: App) -> dict[str, Any]:
    return {
        "id": str(app.app_id),
        "name": app.name,
        "website": app.website,
        "scopes": sorted(app.scopes),
        "redirect_uri": "\n".join(app.redirect_uris),
        "redirect_uris": list(app.redirect_uris),
        "vapid_key": "",
    }


@router.post(
    "/api/v1/apps",
    dependencies=[limited("register", per_user=False)],
    response_model=CredentialApplication,
    responses=responses(400, 413, 422, 429, 503),
    openapi_extra=body_schema(AppIn),
    summary="Register a client application (form or JSON): its client_id and client_secret",
)
async def create_app(request: Request, w: W, ids: Ids) -> dict[str, Any]:
    body = validate(AppIn, await params(request))
    try:
        uris = redirect_uris(body.redirect_uris)
        asked = scopes.parse(body.scopes)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Validation failed: {exc}") from None
    secret = new_secret()
    app = App(ids.next_id(), secrets.token_urlsafe(32), body.client_name, body.website or None, uris,
              frozenset(asked), datetime.now(UTC))  # fmt: skip
    await oauth_store(w).create_app(app, secret)
    return {**application_json(app), "scopes": list(asked), "client_id": app.client_id, "client_secret": secret,
            "client_secret_expires_at": 0}  # fmt: skip


@router.get(
    "/api/v1/apps/verify_credentials",
    dependencies=[reader()],
    response_model=Application,
    responses=responses(401, 403, 404, 429),
    summary="The application of the token sent (any scope)",
)
async def verify_app(caller: Annotated[Caller, scoped(*scopes.KNOWN, user=False)], w: W) -> dict[str, Any]:
    app = await oauth_store(w).app(caller.grant.client_id) if caller.grant.client_id else None
    if app is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This token was not issued to an application")
    return application_json(app)
