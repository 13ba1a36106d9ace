"""OAuth 2 as Mastodon serves it: the sign-in and consent page (GET/POST /oauth/authorize), the token endpoint
(authorization_code with PKCE S256, password, client_credentials) and revocation.

Tokens are chirp's bearer tokens (infra/accounts.py) that carry their application and scopes; applications
and codes are in Cassandra (infra/oauth.py), so any API process finishes what another began."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import Field, ValidationError

from api.mastodon import pages, scopes
from api.mastodon.apps import oauth_store
from api.mastodon.auth import limited
from api.mastodon.errors import MastodonError, responses
from api.mastodon.models import OOB, Params, RevokeIn, Token, TokenIn
from api.mastodon.params import body_schema, params
from api.mastodon.site import base_url, domain
from api.wiring import Wiring, wiring
from infra.accounts import new_token
from infra.oauth import App, Code
from infra.passwords import verify_password

router = APIRouter(tags=["mastodon: oauth"])
W = Annotated[Wiring, Depends(wiring)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
HTML: dict[str, Any] = {"content": {"text/html": {}}}


def oauth_error(status_code: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code, headers=NO_STORE)


def pkce_ok(verifier: str | None, challenge: str) -> bool:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding equals the challenge."""
    if not verifier:
        return False
    made = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(made, challenge)


def basic_client(request: Request) -> tuple[str | None, str | None]:
    """client_id and client_secret from HTTP Basic authentication (RFC 6749 2.3.1), if sent."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        ident, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return unquote(ident), unquote(secret)


PAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        **HTML,
        "description": "The sign-in and consent form; after a wrong password, the form again; for the "
        "out-of-band redirect URI, the code.",
    },
    302: {"description": "Back to the application's redirect_uri with `code` and `state`, or with `error`."},
    400: {**HTML, "description": "The form is malformed (an HTML page)."},
    401: {**HTML, "description": "Unknown client application (an HTML page)."},
    403: {
        **HTML,
        "description": "The redirect_uri is not one the application registered, or (out-of-band flow) "
        "the request cannot be authorized (an HTML page).",
    },
}

# The authorization page ---------------------------------------------------------------------------------------


class AuthorizeIn(Params):
    response_type: str = Field("code", max_length=40)
    client_id: str = Field("", max_length=200)
    redirect_uri: str | None = Field(None, max_length=2000)
    scope: str | None = Field(None, max_length=2000)
    state: str | None = Field(None, max_length=2000)
    code_challenge: str | None = Field(None, max_length=200)
    code_challenge_method: str | None = Field(None, max_length=20)
    username: str = Field("", max_length=300)
    password: str = Field("", max_length=1000)
    decision: Literal["approve", "deny"] = "approve"


@dataclass(frozen=True)
class Authorization:
    app: App
    redirect_uri: str
    scopes: tuple[str, ...]
    hidden: dict[str, str]


async def _check(w: Wiring, a: AuthorizeIn) -> Authorization | Response:
    """The authorization request; or the error: a page while the client and its redirect URI are not known
    good (401 for an unknown client, 403 for a redirect URI it did not register), then a redirect back with
    `error` (RFC 6749 4.1.2.1), or a page for the out-of-band flow."""
    app = await oauth_store(w).app(a.client_id) if a.client_id else None
    if app is None:
        return pages.error_page("Unknown client application (client_id).", 401)
    redirect = a.redirect_uri or (app.redirect_uris[0] if len(app.redirect_uris) == 1 else "")
    if redirect not in app.redirect_uris:
        return pages.error_page("The redirect_uri is not one the application registered.", 403)

    def refuse(error: str, why: str) -> Response:
        if redirect == OOB:
            return pages.error_page(why, 403)
        state = {"state": a.state} if a.state is not None else {}
        return _back(redirect, {"error": error, "error_description": why, **state})

    if a.response_type != "code":
        return refuse("unsupported_response_type", "Only response_type=code is supported.")
    try:
        asked = scopes.parse(a.scope)
    except scopes.ScopeError as exc:
        return refuse("invalid_scope", f"Invalid scope: {exc}.")
    if not scopes.within(asked, app.scopes):
        return refuse("invalid_scope", "The scope asked for is more than the application registered.")
    if a.code_challenge is not None and (a.code_challenge_method or "plain") != "S256":
        return refuse("invalid_request", "Only the S256 code_challenge_method is supported.")
    if a.code_challenge is not None and not 43 <= len(a.code_challenge) <= 128:
        return refuse("invalid_request", "The code_challenge must be 43 to 128 characters.")
    hidden = {"response_type": "code", "client_id": app.client_id, "redirect_uri": redirect, "scope": " ".join(asked)}
    for name in ("state", "code_challenge", "code_challenge_method"):
        value = getattr(a, name)
        if value is not None:
            hidden[name] = value
    return Authorization(app, redirect, asked, hidden)


def _back(redirect_uri: str, answer: dict[str, str]) -> RedirectResponse:
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + sep + urlencode(answer), status_code=302, headers=NO_STORE)


@router.get(
    "/oauth/authorize",
    response_class=HTMLResponse,
    responses=PAGE_ANSWERS,
    summary="Sign in and authorize an application (an HTML page)",
)
async def authorize_form(
    request: Request,
    w: W,
    client_id: Annotated[str, Query(max_length=200)],
    response_type: Annotated[str, Query(max_length=40)] = "code",
    redirect_uri: Annotated[str | None, Query(max_length=2000)] = None,
    scope: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=2000)] = None,
    code_challenge: Annotated[str | None, Query(max_length=200)] = None,
    code_challenge_method: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    a = AuthorizeIn(
        response_type=response_type,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
    )
    checked = await _check(w, a)
    if not isinstance(checked, Authorization):
        return checked
    instance = domain(base_url(request, w.settings))
    return pages.authorize_page(instance, checked.app.name, checked.scopes, checked.hidden)


@router.post(
    "/oauth/authorize",
    dependencies=[limited("logins", per_user=False)],
    response_class=HTMLResponse,
    responses={**PAGE_ANSWERS, **responses(413, 429)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/AuthorizeInForm"}}
            },
        }
    },
    summary="The sign-in form's answer: a code for the application",
)
async def authorize(request: Request, w: W) -> Response:
    data = {k: v for k, v in (await params(request)).items() if isinstance(v, str)}
    try:
        a = AuthorizeIn.model_validate(data)
    except ValidationError:
        return pages.error_page("The form is malformed.")
    checked = await _check(w, a)
    if not isinstance(checked, Authorization):
        return checked
    state = {"state": a.state} if a.state is not None else {}
    if a.decision == "deny":
        if checked.redirect_uri == OOB:
            return pages.error_page("You denied the authorization.", 200)
        return _back(checked.redirect_uri, {"error": "access_denied", **state})
    found = await w.accounts.login(a.username) if a.username else None
    if not await verify_password(found[1] if found else None, a.password) or found is None:
        instance = domain(base_url(request, w.settings))
        return pages.authorize_page(
            instance,
            checked.app.name,
            checked.scopes,
            checked.hidden,
            "Wrong e-mail, username or password.",
            a.username,
        )
    code = secrets.token_urlsafe(32)
    grant = Code(checked.app.client_id, found[0], checked.redirect_uri, checked.scopes, a.code_challenge)
    await oauth_store(w).save_code(code, grant, w.settings.oauth_code_ttl_s)
    if checked.redirect_uri == OOB:
        return pages.code_page(checked.app.name, code)
    return _back(checked.redirect_uri, {"code": code, **state})


# The token endpoint -------------------------------------------------------------------------------------------


async def _client_of(request: Request, w: Wiring, data: dict[str, Any]) -> tuple[App | None, bool]:
    """The client application the request names (in the body, or by HTTP Basic) and whether its secret is right;
    checked first, so that an unknown client learns nothing else."""
    basic_id, basic_secret = basic_client(request)
    client_id = data.get("client_id") or basic_id
    secret = data.get("client_secret") or basic_secret
    if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
        return None, False
    app = await oauth_store(w).app(client_id)
    return app, app is not None and app.secret_matches(secret if isinstance(secret, str) else None)


@router.post(
    "/oauth/token",
    dependencies=[limited("logins", per_user=False)],
    response_model=Token,
    responses={
        400: {
            "model": MastodonError,
            "description": "invalid_request, invalid_grant (a wrong password, "
            "an unknown or used code, a PKCE mismatch), invalid_scope or unsupported_grant_type.",
        },
        401: {"model": MastodonError, "description": "invalid_client: unknown client or wrong secret."},
        **responses(413, 429, 503),
    },
    openapi_extra=body_schema(TokenIn),
    summary="Get an access token: authorization_code (PKCE S256), password or client_credentials",
)
async def token(request: Request, w: W) -> Response:
    data = await params(request)
    app, authenticated = await _client_of(request, w, data)
    if app is None:
        return oauth_error(401, "invalid_client", "Client authentication failed: unknown client.")
    grant_type = data.get("grant_type")
    if grant_type not in ("authorization_code", "password", "client_credentials"):
        return oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    try:
        t = TokenIn.model_validate(data)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        return oauth_error(400, "invalid_request", f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
    user_id: int | None
    if t.grant_type == "authorization_code":
        if not t.code:
            return oauth_error(400, "invalid_request", "code is required")
        code = await oauth_store(w).redeem_code(t.code)
        if (
            code is None
            or code.client_id != app.client_id
            or (t.redirect_uri or code.redirect_uri) != code.redirect_uri
        ):
            return oauth_error(400, "invalid_grant", "The code is invalid, expired, used, or issued for another "
                               "client or redirect_uri.")  # fmt: skip
        if not authenticated and not (code.code_challenge is not None and t.client_secret is None):
            return oauth_error(401, "invalid_client", "Client authentication failed: wrong client_secret.")
        if code.code_challenge is not None and not pkce_ok(t.code_verifier, code.code_challenge):
            return oauth_error(400, "invalid_grant", "The code_verifier does not match the code_challenge.")
        asked, user_id = code.scopes, code.user_id
    else:
        if not authenticated:
            return oauth_error(401, "invalid_client", "Client authentication failed: wrong client_secret.")
        try:
            asked = scopes.parse(t.scope)
        except scopes.ScopeError as exc:
            return oauth_error(400, "invalid_scope", str(exc))
        if not scopes.within(asked, app.scopes):
            return oauth_error(400, "invalid_scope", "The scope asked for is more than the application registered.")
        if t.grant_type == "password":
            if not t.username or t.password is None:
                return oauth_error(400, "invalid_request", "username and password are required")
            found = await w.accounts.login(t.username)
            if not await verify_password(found[1] if found else None, t.password) or found is None:
                return oauth_error(400, "invalid_grant", "Wrong e-mail, username or password.")
            user_id = found[0]
        else:
            user_id = None  # client_credentials: the application's own token
    return await issue(w, app, user_id, asked)


async def issue(w: Wiring, app: App, user_id: int | None, asked: tuple[str, ...]) -> JSONResponse:
    access = new_token()
    await w.accounts.save_token(access, user_id, frozenset(asked), app.client_id)
    return JSONResponse(token_json(access, asked), headers=NO_STORE)


def token_json(access: str, asked: tuple[str, ...]) -> dict[str, Any]:
    return {"access_token": access, "token_type": "Bearer", "scope": " ".join(asked), "created_at": int(time.time())}


@router.post(
    "/oauth/revoke",
    response_model=dict[str, Any],
    responses={
        403: {
            "model": MastodonError,
            "description": "unauthorized_client: wrong client credentials, or the "
            "token belongs to another application.",
        },
        **responses(400, 413, 422),
    },
    openapi_extra=body_schema(RevokeIn),
    summary="Revoke a token (RFC 7009): every API process refuses it within a second",
)
async def revoke(request: Request, w: W) -> Response:
    data = await params(request)
    app, authenticated = await _client_of(request, w, data)
    if app is None or not authenticated:
        return oauth_error(403, "unauthorized_client", "You are not authorized to revoke this token.")
    token_ = data.get("token")
    if not isinstance(token_, str) or not token_:
        return oauth_error(400, "invalid_request", "token is required")
    grant = await w.accounts.token_grant(token_)
    if grant is not None:
        if grant.client_id != app.client_id:
            return oauth_error(403, "unauthorized_client", "You are not authorized to revoke this token.")
        await w.accounts.delete_token(token_)
    return JSONResponse({}, headers=NO_STORE)
