"""Mastodon's entities (Account, Status, and the HTML `content` of a status) built from chirp's read-side
views. Pure functions over plain dicts for the API's Mastodon routes, and for anything else (the stream
worker's pushes) that must send the same objects; no I/O.

`content` is safe HTML: the text is escaped, then URLs (http and https), @mentions of accounts that exist
and #hashtags become links, blank lines separate paragraphs (`<p>`) and a single newline is a `<br />`, as
Mastodon renders a local status.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from projections.model import TweetView, UserView
from projections.text import HASHTAG, MENTION, is_tag, normalize
from projections.wire import media_base, media_json
from schemas.events import Media
from schemas.ids import id_time

_URL = re.compile(r"(?<![\w/.@])https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*"
_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")
# chirp stores a GIF as it came (Mastodon's "gifv" is a GIF turned into a looping video, played with <video>).
MEDIA_TYPES = {"image": "image", "gif": "image", "video": "video"}
_UPLOAD_ID = re.compile(r"^(\d+)-")  # a key's basename made by api/media.py new_key: "<media id>-<random>.<ext>"
AVATAR_PATH = "/avatars/original/missing.png"
HEADER_PATH = "/headers/original/missing.png"


def timestamp(when: datetime) -> str:
    """Mastodon's datetime form: ISO 8601 in UTC with milliseconds and a `Z`."""
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Content:
    html: str
    mentions: list[tuple[int, str]] = field(default_factory=list)  # (account id, handle as written), each once
    tags: list[str] = field(default_factory=list)  # normalized hashtags, each once


def _url_end(url: str) -> str:
    """The URL without the punctuation that ends the sentence around it (and an unbalanced closing paren)."""
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def _link_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'
        f'<span class="invisible">{html.escape(scheme + sep)}</span><span class="">{html.escape(rest)}</span></a>'
    )


class _Renderer:
    def __init__(self, accounts: Mapping[str, int], base: str) -> None:
        self.accounts = accounts
        self.base = base
        self.mentions: dict[int, str] = {}
        self.tags: dict[str, None] = {}

    def words(self, text: str) -> str:
        """Plain text with @mentions and #hashtags linked (no URLs in it)."""
        out: list[str] = []
        pos = 0
        spans = sorted([*((m, "@") for m in MENTION.finditer(text)), *((m, "#") for m in HASHTAG.finditer(text))],
                       key=lambda s: s[0].start())  # fmt: skip
        for m, kind in spans:
            if m.start() < pos:
                continue
            word = m.group(1)
            if kind == "@":
                account = self.accounts.get(word.lower())
                if account is None:
                    continue
                self.mentions.setdefault(account, word)
                link = (f'<span class="h-card" translate="no"><a href="{html.escape(profile_url(self.base, word))}" '
                        f'class="u-url mention">@<span>{html.escape(word)}</span></a></span>')  # fmt: skip
            else:
                if not is_tag(word):
                    continue
                tag = normalize(word)
                self.tags.setdefault(tag, None)
                link = (f'<a href="{html.escape(tag_url(self.base, tag))}" class="mention hashtag" rel="tag">'
                        f"#<span>{html.escape(word)}</span></a>")  # fmt: skip
            out.append(html.escape(text[pos : m.start()]))
            out.append(link)
            pos = m.end()
        out.append(html.escape(text[pos:]))
        return "".join(out)

    def line(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        for m in _URL.finditer(text):
            url = _url_end(m.group(0))
            if "://" not in url or url.endswith("://"):
                continue
            out.append(self.words(text[pos : m.start()]))
            out.append(_link_url(url))
            pos = m.start() + len(url)
        out.append(self.words(text[pos:]))
        return "".join(out)


def content_html(text: str, accounts: Mapping[str, int], base: str) -> Content:
    """The status text as Mastodon's safe HTML. `accounts` maps lower-cased handles to account ids: only
    mentions of those are linked (and listed)."""
    r = _Renderer(accounts, base)
    paragraphs = [p for p in _PARAGRAPHS.split(text.strip("\n")) if p.strip()] or [""]
    body = "".join("<p>" + "<br />".join(r.line(line) for line in p.split("\n")) + "</p>" for p in paragraphs)
    return Content(body, list(r.mentions.items()), list(r.tags))


def profile_url(base: str, handle: str) -> str:
    return f"{base}/@{quote(handle)}"


def tag_url(base: str, tag: str) -> str:
    return f"{base}/tags/{quote(tag)}"


def account_json(
    u: UserView, base: str, followers: int = 0, following: int = 0, statuses: int = 0,
    last_status_at: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A Mastodon Account of a local user; created_at comes from the time in the user's id."""
    avatar, header = base + AVATAR_PATH, base + HEADER_PATH
    return {
        "id": str(u.user_id),
        "username": u.handle,
        "acct": u.handle,
        "display_name": u.display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "created_at": timestamp(id_time(u.user_id)),
        "note": "",
        "url": profile_url(base, u.handle),
        # chirp does not federate: the uri is the profile's address (Mastodon's /users/<name> is chirp's own
        # /users/{user_id} route, which takes an id)
        "uri": profile_url(base, u.handle),
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": followers,
        "following_count": following,
        "statuses_count": statuses,
        "last_status_at": None if last_status_at is None else last_status_at.date().isoformat(),
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def attachment_json(
    media_id: str, media_type: str, url: str, description: str | None, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Mastodon MediaAttachment; `url` is storage's or the CDN's, never the API's; no preview is made."""
    return {
        "id": media_id,
        "type": MEDIA_TYPES.get(media_type, "unknown"),
        "url": url,
        "preview_url": url,
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta or {},
        "description": description,
        "blurhash": None,
    }


def image_meta(width: int | None, height: int | None, focus: tuple[float, float] | None) -> dict[str, Any]:
    """MediaAttachment `meta`: the image's size (as `original` and `small`: no smaller copy is made) and focus."""
    meta: dict[str, Any] = {}
    if width and height:
        size = {"width": width, "height": height, "size": f"{width}x{height}", "aspect": round(width / height, 6)}
        meta = {"original": size, "small": dict(size)}
    if focus is not None:
        meta["focus"] = {"x": focus[0], "y": focus[1]}
    return meta


def attachment_id(owner_id: int, index: int, m: Media) -> str:
    """A tweet's media item's id: an upload keeps the id it was uploaded as (named in its key); a linked URL
    gets the tweet's id and its position."""
    base = media_base()
    # the read side keeps an upload's whole URL: what follows the media base is its key, and names its id
    key = m.key or (m.url[len(base) :] if base and m.url.startswith(base) else "")
    uploaded = _UPLOAD_ID.match(key.rsplit("/", 1)[-1]) if key else None
    return uploaded.group(1) if uploaded else f"{owner_id}{index:02d}"


def media_attachment_json(owner_id: int, index: int, m: Media) -> dict[str, Any]:
    """A tweet's media item as a MediaAttachment."""
    return attachment_json(attachment_id(owner_id, index, m), m.type, media_json(m)["url"], m.alt_text)


def status_json(
    v: TweetView, base: str, accounts: Mapping[str, int], author: dict[str, Any] | None = None,
    favourited: bool = False, in_reply_to_account_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A Mastodon Status of a tweet (public, never a reblog). `author` is its Account (built from `v.author`
    when not given); `accounts` (lower-cased handle -> id) says which @mentions are accounts;
    `in_reply_to_account_id`: the author of the status it replies to, when known."""
    if author is None:
        user = v.author or UserView(v.author_id, str(v.author_id), str(v.author_id))
        author = account_json(user, base)
    handle = author["username"]
    content = content_html(v.content, accounts, base)
    return {
        "id": str(v.tweet_id),
        "created_at": timestamp(v.created_at),
        "in_reply_to_id": None if v.reply_to is None else str(v.reply_to),
        "in_reply_to_account_id": None if in_reply_to_account_id is None else str(in_reply_to_account_id),
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": None,
        "uri": f"{profile_url(base, handle)}/{v.tweet_id}",
        "url": f"{profile_url(base, handle)}/{v.tweet_id}",
        "replies_count": v.reply_count,
        "reblogs_count": 0,
        "favourites_count": v.like_count,
        "edited_at": None if v.edited_at is None else timestamp(v.edited_at),
        "favourited": favourited,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "content": content.html,
        "filtered": [],
        "reblog": None,
        "application": None,
        "account": author,
        "media_attachments": [media_attachment_json(v.tweet_id, i, m) for i, m in enumerate(v.media)],
        "mentions": [
            {"id": str(i), "username": h, "acct": h, "url": profile_url(base, h)} for i, h in content.mentions
        ],
        "tags": [{"name": t, "url": tag_url(base, t)} for t in content.tags],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def status_edit_json(
    content: str, at: datetime, base: str, accounts: Mapping[str, int], author: dict[str, Any], media: list[Any]
) -> dict[str, Any]:  # fmt: skip
    """One version of a status (Mastodon's StatusEdit) as `GET /api/v1/statuses/:id/history` lists them."""
    return {
        "content": content_html(content, accounts, base).html,
        "spoiler_text": "",
        "sensitive": False,
        "created_at": timestamp(at),
        "account": author,
        "poll": None,
        "media_attachments": media,
        "emojis": [],
    }


def mentioned(texts: Iterable[str]) -> list[str]:
    """Every lower-cased @handle the texts name (to look up once for a page of statuses)."""
    seen: dict[str, None] = {}
    for t in texts:
        for m in MENTION.finditer(t):
            seen.setdefault(m.group(1).lower(), None)
    return list(seen)


def relationship_json(account_id: int, following: bool, followed_by: bool) -> dict[str, Any]:
    return {
        "id": str(account_id),
        "following": following,
        "showing_reblogs": following,
        "notifying": False,
        "languages": None,
        "followed_by": followed_by,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


# Notifications ----------------------------------------------------------------------------------------------------

# chirp's kinds as Mastodon's types: a reply is a `mention` there (a reply names the author it answers).
NOTIFICATION_TYPES = {"mention": "mention", "reply": "mention", "like": "favourite", "follow": "follow"}
# Mastodon's types and the chirp kinds behind them; the others (reblog, poll, status, update, ...) chirp never makes.
CHIRP_KINDS: dict[str, tuple[str, ...]] = {"mention": ("mention", "reply"), "favourite": ("like",),
                                           "follow": ("follow",)}  # fmt: skip
MASTODON_TYPES = ("mention", "status", "reblog", "follow", "follow_request", "favourite", "poll", "update",
                  "admin.sign_up", "admin.report", "severed_relationships", "moderation_warning")  # fmt: skip


def wanted_kinds(types: Iterable[str], exclude: Iterable[str]) -> frozenset[str] | None:
    """The chirp kinds a Mastodon `types[]` / `exclude_types[]` pair asks for (None: every kind). Types chirp
    never makes select nothing; unknown ones are ignored, as Mastodon does."""
    types, exclude = list(types), set(exclude)
    if not types and not exclude:
        return None
    chosen = set(types) if types else set(CHIRP_KINDS)
    return frozenset(k for t in chosen - exclude for k in CHIRP_KINDS.get(t, ()))


def notification_json(
    notification_id: int, kind: str, created_at: datetime, account: dict[str, Any], status: dict[str, Any] | None
) -> dict[str, Any]:
    """A Mastodon Notification (ungrouped: `group_key` names the notification alone)."""
    return {
        "id": str(notification_id),
        "type": NOTIFICATION_TYPES.get(kind, kind),
        "group_key": f"ungrouped-{notification_id}",
        "created_at": timestamp(created_at),
        "account": account,
        "status": status,
    }


# Markers and tags -------------------------------------------------------------------------------------------------


def marker_json(last_read_id: int, version: int, updated_at: datetime) -> dict[str, Any]:
    return {"last_read_id": str(last_read_id), "version": version, "updated_at": timestamp(updated_at)}


def tag_json(
    base: str, name: str, history: list[tuple[datetime, int, int]] | None = None, following: bool | None = None
) -> dict[str, Any]:
    """A Mastodon Tag; `history`: (day, uses, accounts), newest first (Mastodon's strings of numbers)."""
    out: dict[str, Any] = {
        "name": name,
        "url": tag_url(base, normalize(name)),
        "history": [
            {"day": str(int(day.replace(tzinfo=day.tzinfo or UTC).timestamp())), "uses": str(uses),
             "accounts": str(accounts)} for day, uses, accounts in history or []
        ],
    }  # fmt: skip
    if following is not None:
        out["following"] = following
    return out


# Pushed messages --------------------------------------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def view_of_wire(tweet: Mapping[str, Any]) -> TweetView:
    """A TweetView back from chirp's pushed tweet (projections/wire.py's `tweet_json`), to render it as a Status."""
    author = tweet.get("author")
    user = UserView(int(author["user_id"]), author["handle"], author["display_name"]) if author else None
    media = tuple(Media(m["url"], m["type"], m.get("alt_text"), m.get("size_bytes")) for m in tweet.get("media") or [])
    created = _when(tweet["created_at"])
    assert created is not None
    return TweetView(
        int(tweet["tweet_id"]), int(tweet["user_id"]), tweet["content"], created,
        int(tweet["reply_to"]) if tweet.get("reply_to") else None, _when(tweet.get("edited_at")), media,
        like_count=int(tweet.get("like_count") or 0), reply_count=int(tweet.get("reply_count") or 0), author=user,
    )  # fmt: skip


def user_of_wire(author: Mapping[str, Any]) -> UserView:
    """A UserView back from chirp's pushed author (`author_json`)."""
    return UserView(int(author["user_id"]), author["handle"], author["display_name"])


def pushed_handles(msg: Mapping[str, Any]) -> list[str]:
    """The @handles named in a pushed message's tweet (to look up before `mastodon_event`)."""
    data = msg.get("data") or {}
    tweet = data.get("tweet") if msg.get("event") == "notification" else data
    content = tweet.get("content") if isinstance(tweet, Mapping) else None
    return mentioned([content]) if isinstance(content, str) else []


def mastodon_event(msg: Mapping[str, Any], base: str, accounts: Mapping[str, int]) -> tuple[str, str] | None:
    """A chirp push message (projections/push.py: update, edit, delete, notification) as Mastodon's streaming
    event and payload: `update` and `status.update` (a Status as a JSON string), `delete` (the bare status
    id), `notification` (a Notification as a JSON string). None for anything else."""
    event, data = msg.get("event"), msg.get("data") or {}
    if event in ("update", "edit"):
        status = status_json(view_of_wire(data), base, accounts)
        return ("update" if event == "update" else "status.update"), orjson.dumps(status).decode()
    if event == "delete":
        return "delete", str(data["tweet_id"])
    if event == "notification":
        account = account_json(user_of_wire(data["account"]), base)
        tweet = data.get("tweet")
        shown = status_json(view_of_wire(tweet), base, accounts) if tweet else None
        created = _when(data["created_at"])
        assert created is not None
        note = notification_json(int(data["id"]), str(data["type"]), created, account, shown)
        return "notification", orjson.dumps(note).decode()
    return None
