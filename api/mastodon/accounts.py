"""Accounts, Mastodon's face of chirp's users: registration (the same command as POST /users), profiles,
a user's statuses, the follow lists, follow and unfollow (the same events as POST/DELETE /follow) and
relationships. Reads come from chirp's read models (projections/queries.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api import registration
from api.idempotency import Ids
from api.mastodon import scopes
from api.mastodon.auth import Caller, limited, scoped
from api.mastodon.errors import MastodonError, responses
from api.mastodon.models import Account, AccountIn, CredentialAccount, Relationship, Status, Token
from api.mastodon.oauth import NO_STORE, token_json
from api.mastodon.paging import Limit, MaxId, MinId, SinceId, Window, link_header, page
from api.mastodon.params import body_schema, params
from api.mastodon.site import base_url, domain
from api.routers.reads import queries
from api.throttle import reader
from api.wiring import Wiring, wiring
from projections.mastodon_wire import account_json, mentioned, relationship_json, status_json
from projections.model import TweetView, UserView
from schemas.events import UserFollowed, UserUnfollowed
from schemas.ids import ID_PATTERN, parse_id

router = APIRouter(tags=["mastodon: accounts"])
W = Annotated[Wiring, Depends(wiring)]
AccountId = Annotated[str, Path(pattern=ID_PATTERN, description="An account id.", examples=["7251846523904000"])]
NOT_FOUND = "Record not found"
ERR = {"missing": "ERR_BLANK", "string_too_short": "ERR_TOO_SHORT", "string_too_long": "ERR_TOO_LONG"}


async def account_of(request: Request, w: Wiring, user_id: int) -> dict[str, Any]:
    """The Account (read your own writes: one registered moments ago is answered from the command side's
    record until the worker has projected it), or 404."""
    base = base_url(request, w.settings)
    profile = await queries(w).profile(user_id)
    if profile is not None:
        return account_json(profile.user, base, profile.followers, profile.following)
    handle = await w.accounts.handle_of(user_id)  # registered a moment ago: the worker has not projected it yet
    if handle is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return account_json(UserView(user_id, handle, handle), base)


async def _known(w: Wiring, user_id: int) -> None:
    if not await queries(w).users([user_id]) and not await w.accounts.user_exists(user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)


def _paged(request: Request, body: list[dict[str, Any]], ids: list[int], more: bool) -> JSONResponse:
    link = link_header(str(request.url.replace(query="")), request.query_params.multi_items(), ids, more)
    return JSONResponse(body, headers={"Link": link} if link else None)


# Registration ---------------------------------------------------------------------------------------------------


def _details(exc: ValidationError) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for e in exc.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else "base"
        code = "ERR_ACCEPTED" if field == "agreement" else ERR.get(e["type"], "ERR_INVALID")
        out.setdefault(field, []).append({"error": code, "description": str(e["msg"])})
    return out


@router.post(
    "/api/v1/accounts",
    dependencies=[limited("register", per_user=False)],
    response_model=Token,
    responses={
        **responses(400, 401, 403, 413, 422, 429, 503),
        409: {"model": MastodonError, "description": "The username or e-mail is taken (`details`: ERR_TAKEN)."},
    },
    openapi_extra=body_schema(AccountIn),
    summary="Register an account with an application's token (write:accounts); answers the user's token",
)
async def register(
    request: Request, w: W, ids: Ids, app: Annotated[Caller, scoped("write", "write:accounts", user=False)]
) -> JSONResponse:
    if not w.settings.registrations_open:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Registrations are closed on this server")
    data = await params(request)
    details: dict[str, list[dict[str, str]]] = {}
    try:
        body = AccountIn.model_validate(data)
    except ValidationError as exc:
        details = _details(exc)
    if details:
        fields = ", ".join(f"{k} {v[0]['description']}" for k, v in details.items())
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"error": f"Validation failed: {fields}", "details": details}
        )
    asked = tuple(sorted(app.grant.scopes)) if app.grant.scopes is not None else scopes.TOP[:4]
    credentials = registration.Credentials(body.password, body.email, body.locale)
    try:
        done = await registration.register(
            w, ids, body.username, body.username, credentials, frozenset(asked), app.grant.client_id
        )
    except registration.Taken as exc:
        field = "username" if exc.field == "handle" else "email"
        details = {field: [{"error": "ERR_TAKEN", "description": "is already taken"}]}
        raise HTTPException(  # Mastodon answers 422; 409 as chirp's POST /users (the body is Mastodon's)
            status.HTTP_409_CONFLICT,
            {"error": f"Validation failed: {field} is already taken", "details": details},
        ) from None
    return JSONResponse(token_json(done.token, asked), headers=NO_STORE)


# The caller's own account ----------------------------------------------------------------------------------------


@router.get(
    "/api/v1/accounts/verify_credentials",
    response_model=CredentialAccount,
    responses=responses(401, 403, 404, 422),
    summary="The token's account, with its `source`",
)
async def verify_credentials(
    request: Request, w: W, caller: Annotated[Caller, scoped("read", "read:accounts", "profile")]
) -> dict[str, Any]:
    account = await account_of(request, w, caller.user_id)
    source = {
        "note": "",
        "fields": [],
        "privacy": "public",
        "sensitive": False,
        "language": None,
        "follow_requests_count": 0,
        "hide_collections": False,
        "discoverable": True,
        "indexable": True,
    }
    return {**account, "source": source}


@router.get(
    "/api/v1/accounts/relationships",
    response_model=list[Relationship],
    responses=responses(401, 403, 422),
    summary="How the caller and each account follow each other (`id[]`, repeated)",
)
async def relationships(
    w: W,
    caller: Annotated[Caller, scoped("read", "read:follows")],
    ids: Annotated[list[str], Query(alias="id[]", max_length=40, description="Account ids.")] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    q, me = queries(w), caller.user_id
    out = []
    for raw in dict.fromkeys(ids):
        try:
            other = parse_id(raw)
        except ValueError:
            continue
        following, followed_by = await q.is_following(me, other), await q.is_following(other, me)
        out.append(relationship_json(other, following, followed_by))
    return out


@router.get(
    "/api/v1/accounts/lookup",
    dependencies=[reader()],
    response_model=Account,
    responses=responses(404, 422, 429),
    summary="An account by its username (`acct`: user or user@this-domain)",
)
async def lookup(
    request: Request, w: W, acct: Annotated[str, Query(min_length=1, max_length=300, examples=["ada_l"])]
) -> dict[str, Any]:
    user, _, host = acct.removeprefix("@").partition("@")
    if host and host.lower() != domain(base_url(request, w.settings)).lower():
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    found = await w.accounts.users_by_handle([user])
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return await account_of(request, w, next(iter(found.values())))


# Any account -----------------------------------------------------------------------------------------------------


@router.get(
    "/api/v1/accounts/{account_id}",
    dependencies=[reader()],
    response_model=Account,
    responses=responses(404, 422, 429),
    summary="An account",
)
async def get_account(request: Request, w: W, account_id: AccountId) -> dict[str, Any]:
    return await account_of(request, w, parse_id(account_id))


async def statuses_json(request: Request, w: Wiring, views: list[TweetView]) -> list[dict[str, Any]]:
    """Statuses of a page: the @mentions of every status looked up once, authors rendered once each."""
    base = base_url(request, w.settings)
    handles = mentioned(v.content for v in views)
    accounts = await w.accounts.users_by_handle(handles) if handles else {}
    authors: dict[int, dict[str, Any]] = {}
    for v in views:
        if v.author_id not in authors:
            authors[v.author_id] = account_json(v.author or UserView(v.author_id, "", ""), base)
    return [status_json(v, base, accounts, authors[v.author_id]) for v in views]


@router.get(
    "/api/v1/accounts/{account_id}/statuses",
    dependencies=[reader()],
    response_model=list[Status],
    responses={
        **responses(404, 422, 429),
        200: {
            "headers": {
                "Link": {
                    "schema": {"type": "string"},
                    "description": 'The next (older) and previous (newer) pages: rel="next", rel="prev".',
                }
            }
        },
    },
    summary="An account's statuses, newest first (max_id, since_id, min_id, limit; Link headers)",
)
async def account_statuses(
    request: Request,
    w: W,
    account_id: AccountId,
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 20,
    exclude_replies: Annotated[bool, Query()] = False,
    only_media: Annotated[bool, Query()] = False,
    pinned: Annotated[bool, Query(description="chirp has no pinned statuses: true answers [].")] = False,
) -> Response:
    user_id = parse_id(account_id)
    await _known(w, user_id)
    if pinned:
        return JSONResponse([])
    q = queries(w)

    async def fetch(win: Window) -> tuple[list[TweetView], bool]:
        return await q.user_tweets_window(user_id, win.before, win.after, win.limit, win.oldest_first)

    got = await page(Window.of(max_id, since_id, min_id, limit), fetch)
    shown = [v for v in got.items if not (exclude_replies and v.reply_to) and not (only_media and not v.media)]
    body = await statuses_json(request, w, shown)
    ids = [v.tweet_id for v in got.items]
    return _paged(request, body, ids, got.more_older)


async def _graph(
    request: Request,
    w: Wiring,
    table: str,
    account_id: str,
    max_id: str | None,
    since_id: str | None,
    min_id: str | None,
    limit: int,
) -> Response:
    user_id = parse_id(account_id)
    q = queries(w)
    await _known(w, user_id)

    async def fetch(win: Window) -> tuple[list[UserView], bool]:
        return await q.graph_window(table, user_id, win.before, win.after, win.limit, win.oldest_first)

    got = await page(Window.of(max_id, since_id, min_id, limit), fetch)
    base = base_url(request, w.settings)
    return _paged(request, [account_json(u, base) for u in got.items], [u.user_id for u in got.items], got.more_older)


LIST_RESPONSES = {**responses(404, 422, 429), 200: {"headers": {"Link": {"schema": {"type": "string"}}}}}


@router.get(
    "/api/v1/accounts/{account_id}/followers",
    dependencies=[reader()],
    response_model=list[Account],
    responses=LIST_RESPONSES,
    summary="Who follows the account (paged by account id, Link headers)",
)
async def followers(
    request: Request,
    w: W,
    account_id: AccountId,
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 40,
) -> Response:
    return await _graph(request, w, "followers", account_id, max_id, since_id, min_id, limit)


@router.get(
    "/api/v1/accounts/{account_id}/following",
    dependencies=[reader()],
    response_model=list[Account],
    responses=LIST_RESPONSES,
    summary="Whom the account follows (paged by account id, Link headers)",
)
async def following(
    request: Request,
    w: W,
    account_id: AccountId,
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 40,
) -> Response:
    return await _graph(request, w, "following", account_id, max_id, since_id, min_id, limit)


# Follow and unfollow ----------------------------------------------------------------------------------------------

FOLLOW = scoped("write", "write:follows", "follow")


async def _follow_target(w: Wiring, me: int, account_id: str) -> int:
    other = parse_id(account_id)
    if other == me:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "You cannot follow yourself")
    if not await w.accounts.user_exists(other) and not await queries(w).users([other]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return other


@router.post(
    "/api/v1/accounts/{account_id}/follow",
    dependencies=[FOLLOW, limited("follows", "writes")],
    response_model=Relationship,
    responses=responses(401, 403, 404, 413, 422, 429, 503),
    summary="Follow the account (the UserFollowed event); answers the relationship as it now is",
)
async def follow(w: W, ids: Ids, account_id: AccountId, caller: Annotated[Caller, FOLLOW]) -> dict[str, Any]:
    me = caller.user_id
    other = await _follow_target(w, me, account_id)
    await w.events.append(UserFollowed(ids.meta(me), me, other))
    return relationship_json(other, True, await queries(w).is_following(other, me))


@router.post(
    "/api/v1/accounts/{account_id}/unfollow",
    dependencies=[FOLLOW, limited("follows", "writes")],
    response_model=Relationship,
    responses=responses(401, 403, 404, 413, 422, 429, 503),
    summary="Unfollow the account (the UserUnfollowed event); answers the relationship as it now is",
)
async def unfollow(w: W, ids: Ids, account_id: AccountId, caller: Annotated[Caller, FOLLOW]) -> dict[str, Any]:
    me = caller.user_id
    other = await _follow_target(w, me, account_id)
    await w.events.append(UserUnfollowed(ids.meta(me), me, other))
    return relationship_json(other, False, await queries(w).is_following(other, me))
