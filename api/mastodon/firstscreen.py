"""What Mastodon clients fetch on their first screens, answered so that none of them breaks on a 404: the
user's preferences (chirp's fixed ones), and empty lists where chirp has no such feature (custom emojis, lists,
filters, follow requests (chirp accounts are never locked), followed and featured hashtags, bookmarks, mutes and
blocks, announcements, trending statuses and links, suggestions, conversations (chirp has no direct messages)), as
GoToSocial does.
Each keeps Mastodon's authentication and scopes: a route that needs a token still answers 401 without one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field

from api.mastodon.auth import scoped
from api.mastodon.errors import responses
from api.mastodon.paging import Limit, MaxId, MinId, SinceId
from api.routers.reads import queries
from api.throttle import reader
from api.wiring import Wiring, wiring
from schemas.ids import ID_PATTERN, parse_id

router = APIRouter(tags=["mastodon: first screens"])
W = Annotated[Wiring, Depends(wiring)]
NONE_YET = "chirp has no such feature: always empty."
USER = responses(401, 403, 422)


class Preferences(BaseModel):
    posting_default_visibility: str = Field("public", alias="posting:default:visibility")
    posting_default_sensitive: bool = Field(False, alias="posting:default:sensitive")
    posting_default_language: str | None = Field(None, alias="posting:default:language")
    reading_expand_media: str = Field("default", alias="reading:expand:media")
    reading_expand_spoilers: bool = Field(False, alias="reading:expand:spoilers")


PREFERENCES = Preferences().model_dump(by_alias=True)


@router.get(
    "/api/v1/preferences",
    response_model=Preferences,
    responses=USER,
    summary="Your posting and reading preferences (chirp's are fixed: public posts, nothing hidden)",
)
async def preferences(_: Annotated[Any, scoped("read", "read:accounts")]) -> dict[str, Any]:
    return PREFERENCES


def _empty(path: str, summary: str, *any_of: str, user: bool = True) -> None:
    """A GET route answering [] (`any_of`: the scopes it takes; none: open to everyone)."""

    async def empty() -> list[Any]:
        return []

    if any_of:
        router.get(path, dependencies=[scoped(*any_of, user=user)], response_model=list[dict[str, Any]],
                   responses=USER, summary=summary, description=NONE_YET)(empty)  # fmt: skip
    else:
        router.get(path, dependencies=[reader()], response_model=list[dict[str, Any]],
                   responses=responses(422, 429), summary=summary, description=NONE_YET)(empty)  # fmt: skip


_empty("/api/v1/custom_emojis", "Custom emojis: none")
_empty("/api/v1/lists", "Your lists: none", "read", "read:lists")
_empty("/api/v1/filters", "Your filters (v1): none", "read", "read:filters")
_empty("/api/v2/filters", "Your filters (v2): none", "read", "read:filters")
_empty("/api/v1/follow_requests", "Follow requests: none (chirp accounts are never locked)", "read", "read:follows",
       "follow")  # fmt: skip
_empty("/api/v1/followed_tags", "Hashtags you follow: none", "read", "read:follows")
_empty("/api/v1/announcements", "Announcements: none", "read")
_empty("/api/v1/trends/statuses", "Trending statuses: none")
_empty("/api/v1/trends/links", "Trending links: none")
_empty("/api/v2/suggestions", "Accounts to follow: none", "read", "read:accounts")
_empty("/api/v1/featured_tags", "Your featured hashtags: none", "read", "read:accounts")
# toot's `bookmarks`, `muted` and `blocked`, and the settings screens of the apps, read these
_empty("/api/v1/bookmarks", "Your bookmarks: none", "read", "read:bookmarks")
_empty("/api/v1/mutes", "Accounts you mute: none", "read", "read:mutes", "follow")
_empty("/api/v1/blocks", "Accounts you block: none", "read", "read:blocks", "follow")


@router.get(
    "/api/v1/conversations",
    response_model=list[dict[str, Any]],
    responses=USER,
    summary="Your direct conversations: none (chirp has no direct messages)",
    description=NONE_YET,
)
async def conversations(
    _: Annotated[Any, scoped("read", "read:statuses")],
    max_id: MaxId = None,
    since_id: SinceId = None,
    min_id: MinId = None,
    limit: Limit = 20,
) -> list[Any]:
    return []


@router.get(
    "/api/v1/accounts/{account_id}/featured_tags",
    dependencies=[reader()],
    response_model=list[dict[str, Any]],
    responses=responses(404, 422, 429),
    summary="An account's featured hashtags: none",
    description=NONE_YET,
)
async def account_featured_tags(
    w: W,
    account_id: Annotated[str, Path(pattern=ID_PATTERN, description="An account id.")],
) -> list[Any]:
    user = parse_id(account_id)
    if not await queries(w).users([user]) and not await w.accounts.user_exists(user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Record not found")
    return []
