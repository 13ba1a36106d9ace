"""Request and response bodies. These are the API's contract, deliberately apart from the Avro records."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from api.media import LIMITS
from api.textrules import CONTENT_PATTERN, LINE_PATTERN, URL_PATTERN, clean_text, public_https_url
from schemas.ids import ID_PATTERN, parse_id

MAX_CONTENT = 280
MAX_MEDIA = 4
HANDLE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
MAX_DISPLAY_NAME = 50
MIN_PASSWORD, MAX_PASSWORD = 8, 72
MAX_EMAIL = 254
# Explicit ranges, never \s: Python's, ECMAScript's and pydantic's (Rust) \s differ.
EMAIL = re.compile(
    r"^[^@\x00-\x20\x7f-\x9f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
LARGEST_MEDIA = max(largest for _, largest in LIMITS.values())


LARGEST_JSON_INT = (1 << 53) - 1  # past this a JSON number loses digits in most clients


def _id(value: Any) -> int:
    """Ids travel as decimal strings (JSON numbers lose precision past 2^53); small integers are tolerated."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 432.0 is an integer to JSON Schema
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('must be an id string such as "7251846523904"')
    if isinstance(value, int) and not 0 < value <= LARGEST_JSON_INT:
        raise ValueError(f'as a number an id must be 1 to {LARGEST_JSON_INT}; send larger ids as strings ("...")')
    return parse_id(str(value))


ID_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": ID_PATTERN, "description": "A decimal id (the way ids are sent back)."},
        {"type": "integer", "minimum": 1, "maximum": LARGEST_JSON_INT},
    ],
    "examples": ["7251846523904000"],
}
Id = Annotated[int, BeforeValidator(_id), WithJsonSchema(ID_SCHEMA)]


def clean_content(value: str) -> str:
    return clean_text(value, "content", MAX_CONTENT, newlines=True)


def clean_alt_text(value: str | None) -> str | None:
    """An empty description is no description; any other must be readable text."""
    return None if value is None or value == "" else clean_text(value, "alt_text", MAX_ALT_TEXT)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


class UserCreate(Strict):
    # An e-mail only with a password (the validator below), said so the schema can check it too.
    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"properties": {"email": {"type": "null"}}},
                                     {"required": ["password"], "properties": {"password": {"type": "string"}}}]}
    )  # fmt: skip
    handle: str = Field(description="3-30 letters, digits or underscores; unique ignoring case.", examples=["ada_l"],
                        pattern=HANDLE.pattern)  # fmt: skip
    display_name: str = Field(description="1-50 characters shown beside the handle.", examples=["Ada Lovelace"],
                              min_length=1, max_length=MAX_DISPLAY_NAME, pattern=LINE_PATTERN)  # fmt: skip

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        if not HANDLE.fullmatch(v):
            raise ValueError("handle must be 3-30 characters of letters, digits and underscore")
        return v

    email: str | None = Field(None, description="Optional: an e-mail address to sign in with (unique ignoring case).",
                              examples=["ada@example.com"], max_length=MAX_EMAIL, pattern=EMAIL.pattern)  # fmt: skip
    password: str | None = Field(
        None, description=f"Optional: {MIN_PASSWORD}-{MAX_PASSWORD} characters, to sign in through OAuth (the "
        "Mastodon API) with the handle or the e-mail. Kept only as an argon2id hash.",
        min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, examples=["correct horse battery staple"],
    )  # fmt: skip

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, v: str) -> str:
        return clean_text(v.strip(), "display_name", MAX_DISPLAY_NAME)

    @model_validator(mode="after")
    def _email_needs_password(self) -> UserCreate:
        if self.email is not None and self.password is None:
            raise ValueError("an email is only taken with a password (it is what signs in)")
        return self


class UserCreated(BaseModel):
    user_id: str = Field(examples=["7251846523904000"])
    handle: str = Field(examples=["ada_l"])
    display_name: str = Field(examples=["Ada Lovelace"])
    token: str = Field(description="Bearer token for every write; shown only once.", examples=["chirp_3q2…"])
    created_at: datetime


class TokenCreated(BaseModel):
    user_id: str = Field(examples=["7251846523904000"])
    token: str = Field(description="A new bearer token for the same user; shown only once.", examples=["chirp_9x…"])
    expires_at: datetime = Field(description="When it expires unless used (each use within its second half "
                                 "extends it by CHIRP_TOKEN_TTL_S).")  # fmt: skip


MediaType = Literal["image", "gif", "video"]
MAX_ALT_TEXT = 1000
ALT_PATTERN = "^$|" + LINE_PATTERN  # empty: no description


class MediaIn(Strict):
    """Either an upload (`media_id` from POST /media; type, size and alt text come from it, alt text may be
    given again here) or an external `url` with its `type` (kept for clients that host media themselves)."""

    # Either source, said so the schema can check it too (what the validator below enforces).
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["media_id"], "properties": {"media_id": {"not": {"type": "null"}},
                                                          "url": {"type": "null"}}},
                {"required": ["url", "type"], "properties": {"url": {"type": "string"}, "type": {"type": "string"},
                                                             "media_id": {"type": "null"}}},
            ]
        }
    )  # fmt: skip

    media_id: Id | None = Field(None, description="From POST /media, by the same user.", examples=["7251846523904100"])
    url: str | None = Field(None, pattern=URL_PATTERN, examples=["https://cdn.example.com/media/cat.jpg"],
                            description="https, a public lower-case domain name, no credentials or port.")  # fmt: skip
    type: MediaType | None = Field(None, description="Required with `url`; with `media_id`, the upload's type.")
    alt_text: str | None = Field(
        None, max_length=MAX_ALT_TEXT, pattern=ALT_PATTERN, examples=["A cat asleep on a keyboard"]
    )
    size_bytes: int | None = Field(
        None, ge=0, le=LARGEST_MEDIA, description="Bytes; at most the largest upload (video)."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else public_https_url(v)

    _alt = field_validator("alt_text")(classmethod(lambda cls, v: clean_alt_text(v)))

    @model_validator(mode="after")
    def _one_source(self) -> MediaIn:
        if (self.media_id is None) == (self.url is None):
            raise ValueError("give either media_id (from POST /media) or url, not both")
        if self.url is not None and self.type is None:
            raise ValueError("type is required with url (image, gif or video)")
        return self


class MediaUploadIn(Strict):
    # Each type with its own content types and largest size, so the schema says what the server takes.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"properties": {"type": {"const": kind}, "content_type": {"enum": list[JsonValue](sorted(types))},
                                "size_bytes": {"maximum": largest}}}
                for kind, (types, largest) in LIMITS.items()
            ]
        }
    )  # fmt: skip
    type: MediaType = Field(
        description="image (JPEG, PNG, WebP; 5 MiB), gif (15 MiB) or video (MP4, MOV, WebM; 512 MiB)."
    )
    content_type: str = Field(description="The MIME type the object is uploaded with.", examples=["image/jpeg"])
    size_bytes: int = Field(ge=1, description="Exact size of the object; the upload URL takes only this size.",
                            examples=[48213])  # fmt: skip
    alt_text: str | None = Field(None, max_length=MAX_ALT_TEXT, pattern=ALT_PATTERN,
                                 description="Description for screen readers.",
                                 examples=["A cat asleep on a keyboard"])  # fmt: skip

    _alt = field_validator("alt_text")(classmethod(lambda cls, v: clean_alt_text(v)))

    @field_validator("size_bytes", mode="before")
    @classmethod
    def _a_number(cls, v: object) -> object:
        if isinstance(v, bool):  # JSON true is not 1 (pydantic would take it, the schema does not)
            raise ValueError("size_bytes must be an integer")
        return v


class UploadTarget(BaseModel):
    url: str = Field(description="Presigned URL to send the bytes to (S3-compatible storage, not chirp).")
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(description="Send exactly these headers with the PUT (they are signed).")
    expires_at: datetime = Field(description="The URL is refused after this time.")


class MediaUploadOut(BaseModel):
    media_id: str = Field(description="Name it in POST /tweets `media` within the upload's lifetime.",
                          examples=["7251846523904100"])  # fmt: skip
    key: str = Field(description="The object's key in storage.", examples=["7251846523904000/q3N1cXp0dF9kZWZhdWx0.jpg"])
    url: str = Field(description="Where the media will be served from (the CDN).",
                     examples=["https://cdn.example.com/media/7251846523904000/q3N1cXp0dF9kZWZhdWx0.jpg"])  # fmt: skip
    type: MediaType
    content_type: str
    size_bytes: int
    alt_text: str | None = None
    upload: UploadTarget


class MediaOut(BaseModel):
    url: str
    type: str
    alt_text: str | None = None
    size_bytes: int | None = None


class TweetCreate(Strict):
    user_id: Id = Field(description="The author; must be the token's user.", examples=["7251846523904000"])
    content: str = Field(description=f"1-{MAX_CONTENT} characters (code points).", examples=["hello, world"],
                         min_length=1, max_length=MAX_CONTENT, pattern=CONTENT_PATTERN)  # fmt: skip
    reply_to: Id | None = Field(None, description="Id of the tweet this replies to.")
    media: list[MediaIn] = Field(default_factory=list, max_length=MAX_MEDIA)

    _content = field_validator("content")(classmethod(lambda cls, v: clean_content(v)))


class TweetEdit(Strict):
    content: str = Field(description=f"The new text, 1-{MAX_CONTENT} characters.", examples=["hello again"],
                         min_length=1, max_length=MAX_CONTENT, pattern=CONTENT_PATTERN)  # fmt: skip

    _content = field_validator("content")(classmethod(lambda cls, v: clean_content(v)))


class TweetCreated(BaseModel):
    tweet_id: str = Field(examples=["7251846523904001"])
    user_id: str = Field(examples=["7251846523904000"])
    content: str = Field(examples=["hello, world"])
    reply_to: str | None = Field(None, examples=[None])
    media: list[MediaOut] = Field(default_factory=list)
    created_at: datetime


class TweetEditAccepted(BaseModel):
    tweet_id: str
    user_id: str
    content: str
    edited_at: datetime


class FollowBody(Strict):
    follower_id: Id = Field(description="Who follows; must be the token's user.", examples=["7251846523904000"])
    followee_id: Id = Field(description="Who is followed.", examples=["7251846523904777"])


class Problem(BaseModel):
    detail: Any = Field(description="What is wrong: a message, or a list of field errors for 422.")
    message: str | None = Field(None, description="For 422: the first field error as one line.")


class Author(BaseModel):
    user_id: str = Field(examples=["7251846523904000"])
    handle: str = Field(examples=["ada_l"])
    display_name: str = Field(examples=["Ada Lovelace"])


class TweetOut(BaseModel):
    tweet_id: str = Field(examples=["7251846523904001"])
    user_id: str = Field(examples=["7251846523904000"])
    content: str = Field(examples=["hello, world"])
    created_at: datetime
    reply_to: str | None = None
    edited_at: datetime | None = None
    like_count: int = Field(0, examples=[3])
    reply_count: int = Field(0, examples=[1])
    media: list[MediaOut] = Field(default_factory=list)
    author: Author | None = None


class TweetPage(BaseModel):
    tweets: list[TweetOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page; null at the end.")


class TimelineOut(TweetPage):
    status: Literal["ready", "rebuilt"] = Field(
        "ready",
        description="`rebuilt` when this read materialized the timeline again (the user had been away); "
        "the page is complete either way.",
    )
    newest_cursor: str | None = Field(
        None,
        description="The cursor of the newest tweet on this page (on an empty page: the `since` you sent, or "
        "null). Poll with `since=<newest_cursor>` from your first page to get only what is newer.",
    )


class UserOut(Author):
    followers_count: int = Field(examples=[42])
    following_count: int = Field(examples=[7])


class UserPage(BaseModel):
    users: list[Author]
    next_cursor: str | None = None


class NotificationOut(BaseModel):
    """Mastodon's notification entity in chirp's names: who did what, about which tweet."""

    id: str = Field(
        description="Time-sortable notification id; also what `up_to` takes.", examples=["7251846523904777"]
    )
    type: Literal["mention", "reply", "like", "follow"]
    created_at: datetime
    account: Author = Field(description="Who mentioned, replied, liked or followed.")
    tweet: TweetOut | None = Field(
        None, description="The mentioning tweet, the reply, or the liked tweet; null for follow."
    )
    read: bool = Field(description="At or below the read marker.")


class NotificationPage(BaseModel):
    notifications: list[NotificationOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page; null at the end.")
    unread_count: int = Field(
        description="Notifications above the read marker, counted up to 1000 (1000 means 1000 or more)."
    )


class UnreadCount(BaseModel):
    unread_count: int = Field(description="Notifications above the read marker, counted up to 1000.", examples=[3])


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: Id | None = Field(
        None, description="The newest notification id read (inclusive); omitted: everything up to now."
    )


class MarkedRead(BaseModel):
    up_to: str = Field(description="The marker recorded (never later than now).", examples=["7251846523904777"])
    unread_count: int = Field(description="What is still unread once the marker applies, counted up to 1000.")


class TrendOut(BaseModel):
    hashtag: str = Field(description="The tag, NFKC case-folded, without `#`: `#Chirp` and `#chirp` are one.",
                         examples=["chirp"])  # fmt: skip
    name: str = Field(description="The tag as the earliest tweet wrote it, with `#`.", examples=["#Chirp"])
    tweets: int = Field(description="Tweets in the window that carry the tag (each counted once).", examples=[42])
    accounts: int = Field(description="Distinct authors of those tweets.", examples=[17])


class TrendsOut(BaseModel):
    window: Literal["1h", "1d"] = Field(examples=["1h"])
    as_of: datetime = Field(description="The end of the window (the time of the read).")
    trends: list[TrendOut] = Field(description="Most tweets first; ties by `hashtag`.")
