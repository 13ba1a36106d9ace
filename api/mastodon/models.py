"""The Mastodon API's request parameters and entities (docs.joinmastodon.org/entities), apart from chirp's own
models and from the Avro records. Requests ignore parameters they do not know (clients send extra ones, such as
the client credentials with a registration); entities are what projections/mastodon_wire.py builds."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from api.mastodon.scopes import KNOWN
from api.models import EMAIL, HANDLE, MAX_EMAIL, MAX_PASSWORD, MIN_PASSWORD
from api.textrules import LINE_PATTERN, clean_text

OOB = "urn:ietf:wg:oauth:2.0:oob"


class Params(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=4096)


_SCOPE = "(?:" + "|".join(re.escape(s) for s in sorted(KNOWN, key=len, reverse=True)) + ")"
SCOPES_PATTERN = rf"^ *{_SCOPE}(?:[ +]+{_SCOPE})* *$"
Scopes = (
    Annotated[str, Field(pattern=SCOPES_PATTERN)]
    | Annotated[list[Annotated[str, Field(pattern=f"^{_SCOPE}$")]], Field(min_length=1)]
)
_URI = r"(?:[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20\x7f#]+)"  # no \s: Python's, ECMAScript's and Rust's differ
URI_PATTERN = _URI
REDIRECTS_PATTERN = rf"^[ \t\r\n]*{_URI}(?:[ \t\r]*\n[ \t\r\n]*{_URI})*[ \t\r\n]*$"


def _flag(value: Any) -> Any:
    """A form's boolean: 1/0, true/false, on/off (any case)."""
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes", "0", "false", "off", "no"):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return value


SCOPES_DOC = "Space-separated scopes (read, write, follow, push, profile and sub-scopes such as read:statuses)."


class AppIn(Params):
    client_name: str = Field(min_length=1, max_length=200, pattern=LINE_PATTERN, examples=["My client"])
    redirect_uris: (
        Annotated[str, Field(pattern=REDIRECTS_PATTERN)]
        | Annotated[list[Annotated[str, Field(pattern=f"^{_URI}$")]], Field(min_length=1)]
    ) = Field(
        description=f"Where to send the user back to: absolute URIs (any scheme, e.g. myapp://callback), newline "
        f"separated or a list, or `{OOB}` to show the code instead.",
        examples=[OOB],
    )
    scopes: Scopes = Field("read", description=SCOPES_DOC, examples=["read write follow push"])
    website: str | None = Field(None, max_length=2000, examples=["https://client.example"])

    _name = field_validator("client_name")(classmethod(lambda cls, v: clean_text(v.strip(), "client_name", 200)))


class TokenIn(Params):
    grant_type: Literal["authorization_code", "password", "client_credentials"] = Field(
        description="authorization_code (with `code`, `redirect_uri`, and `code_verifier` under PKCE), password "
        "(`username`: the e-mail or the handle, `password`) or client_credentials (an application's own token)."
    )
    client_id: str | None = Field(None, description="Or HTTP Basic authentication.")
    client_secret: str | None = Field(None, description="Or HTTP Basic; may be left out with PKCE.")
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = Field(None, min_length=43, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")
    username: str | None = None
    password: str | None = None
    scope: Scopes | None = Field(None, description=SCOPES_DOC + " Default: `read` (for a code: what was granted).")


class RevokeIn(Params):
    client_id: str | None = None
    client_secret: str | None = None
    token: str = Field(min_length=1)


class AccountIn(Params):
    username: str = Field(pattern=HANDLE.pattern, description="3-30 letters, digits or underscores.",
                          examples=["ada_l"])  # fmt: skip
    email: str = Field(max_length=MAX_EMAIL, pattern=EMAIL.pattern, examples=["ada@example.com"])
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    agreement: Annotated[Literal[True], BeforeValidator(_flag)] = Field(
        description="Must be true (a form may send 1): the user accepted the server's rules."
    )
    locale: str = Field("en", pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$", examples=["en"])
    reason: str | None = Field(None, max_length=1000, description="Ignored: registrations need no approval.")


class Application(BaseModel):
    id: str
    name: str
    website: str | None = None
    scopes: list[str]
    redirect_uri: str = Field(description="The redirect URIs, newline separated.")
    redirect_uris: list[str]
    vapid_key: str = ""


class CredentialApplication(Application):
    client_id: str
    client_secret: str = Field(description="Shown only here, once.")
    client_secret_expires_at: int = Field(0, description="0: never.")


class Token(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    scope: str = Field(description="The scopes granted, space separated: what was asked for.")
    created_at: int = Field(description="Unix time, seconds.")


class Emoji(BaseModel):
    shortcode: str
    url: str
    static_url: str
    visible_in_picker: bool


class AccountField(BaseModel):
    name: str
    value: str
    verified_at: str | None = None


class Account(BaseModel):
    id: str
    username: str
    acct: str
    display_name: str
    locked: bool
    bot: bool
    discoverable: bool | None
    indexable: bool
    group: bool
    created_at: str
    note: str
    url: str
    uri: str
    avatar: str
    avatar_static: str
    header: str
    header_static: str
    followers_count: int
    following_count: int
    statuses_count: int
    last_status_at: str | None
    hide_collections: bool | None
    noindex: bool | None
    emojis: list[Emoji]
    roles: list[dict[str, Any]]
    fields: list[AccountField]


class Source(BaseModel):
    note: str = ""
    fields: list[AccountField] = Field(default_factory=list)
    privacy: Literal["public"] = "public"
    sensitive: bool = False
    language: str | None = None
    follow_requests_count: int = 0
    hide_collections: bool = False
    discoverable: bool = True
    indexable: bool = True


class CredentialAccount(Account):
    source: Source


class Relationship(BaseModel):
    id: str
    following: bool
    showing_reblogs: bool
    notifying: bool
    languages: list[str] | None
    followed_by: bool
    blocking: bool
    blocked_by: bool
    muting: bool
    muting_notifications: bool
    requested: bool
    requested_by: bool
    domain_blocking: bool
    endorsed: bool
    note: str


class MediaAttachment(BaseModel):
    id: str
    type: Literal["image", "gifv", "video", "audio", "unknown"]
    url: str
    preview_url: str | None
    remote_url: str | None
    preview_remote_url: str | None
    text_url: str | None
    meta: dict[str, Any]
    description: str | None
    blurhash: str | None


class Mention(BaseModel):
    id: str
    username: str
    acct: str
    url: str


class Tag(BaseModel):
    name: str
    url: str


class Status(BaseModel):
    id: str
    created_at: str
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    sensitive: bool
    spoiler_text: str
    visibility: Literal["public", "unlisted", "private", "direct"]
    language: str | None
    uri: str
    url: str | None
    replies_count: int
    reblogs_count: int
    favourites_count: int
    edited_at: str | None
    favourited: bool
    reblogged: bool
    muted: bool
    bookmarked: bool
    pinned: bool
    content: str = Field(description="Safe HTML: escaped text, links for URLs, @mentions and #hashtags.")
    filtered: list[dict[str, Any]]
    reblog: None
    application: dict[str, Any] | None
    account: Account
    media_attachments: list[MediaAttachment]
    mentions: list[Mention]
    tags: list[Tag]
    emojis: list[Emoji]
    card: dict[str, Any] | None
    poll: dict[str, Any] | None


class DeletedStatus(Status):
    text: str = Field(description="The status's source text, for a client to redraft it.")


class StatusSource(BaseModel):
    id: str
    text: str = Field(description="The status's source text, as its author wrote it, for editing.")
    spoiler_text: str = Field(description="Always empty: chirp has no content warnings.")


class StatusEdit(BaseModel):
    content: str
    spoiler_text: str
    sensitive: bool
    created_at: str
    account: Account
    poll: dict[str, Any] | None
    media_attachments: list[MediaAttachment]
    emojis: list[Emoji]


class Context(BaseModel):
    ancestors: list[Status]
    descendants: list[Status]


class InstanceV1(BaseModel):
    uri: str = Field(description="The domain.")
    title: str
    short_description: str
    description: str
    email: str
    version: str = Field(examples=["4.3.0 (compatible; chirp 0.1.0)"])
    urls: dict[str, str] = Field(description="`streaming_api`: the WebSocket base URL.")
    stats: dict[str, int]
    thumbnail: str | None
    languages: list[str]
    registrations: bool
    approval_required: bool
    invites_enabled: bool
    configuration: dict[str, Any]
    contact_account: Account | None
    rules: list[dict[str, Any]]


class InstanceV2(BaseModel):
    domain: str
    title: str
    version: str = Field(examples=["4.3.0 (compatible; chirp 0.1.0)"])
    source_url: str
    description: str
    usage: dict[str, Any]
    thumbnail: dict[str, Any]
    icon: list[dict[str, Any]]
    languages: list[str]
    configuration: dict[str, Any] = Field(description="`urls.streaming`, limits of statuses and media.")
    registrations: dict[str, Any]
    api_versions: dict[str, int] = Field(description="`mastodon`: 1 (grouped notifications are not served).")
    contact: dict[str, Any]
    rules: list[dict[str, Any]]


class OAuthServer(BaseModel):
    issuer: str
    service_documentation: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str
    app_registration_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]


class Link(BaseModel):
    rel: str
    href: str
    type: str | None = None


class NodeInfoLinks(BaseModel):
    links: list[Link]


class NodeInfo(BaseModel):
    version: Literal["2.0"] = "2.0"
    software: dict[str, str]
    protocols: list[str]
    services: dict[str, list[str]]
    openRegistrations: bool
    usage: dict[str, Any]
    metadata: dict[str, Any]


class Webfinger(BaseModel):
    subject: str
    aliases: list[str]
    links: list[Link]
