"""Media, Mastodon's way: `POST /api/v2/media` (and v1) take the file as multipart form data, as every Mastodon
client sends it, check its type (by its content, with Pillow, for images) and size, store it in S3-compatible
storage (infra/objectstore.py) and answer a MediaAttachment whose `url` is storage's (or the CDN's), never the
API's. Processing is synchronous, so v2 answers 200 with the URL at once. `GET`/`PUT /api/v1/media/:id` read it
and change its description and focus. A status names it in `media_ids` (api/media.py `resolve_media`)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from starlette.datastructures import UploadFile

from api.idempotency import Ids
from api.mastodon.auth import Caller, limited, scoped
from api.mastodon.errors import responses
from api.mastodon.models import MediaAttachment
from api.mastodon.params import params
from api.mastodon.site import upload_limit
from api.media import LIMITS, MAX_ALT_TEXT, Upload, media_type_of, new_key
from api.models import ALT_PATTERN, clean_alt_text
from api.render import media_base
from api.wiring import Wiring, wiring
from projections.mastodon_wire import attachment_json, image_meta
from schemas.ids import ID_PATTERN, parse_id

log = logging.getLogger("chirp.api")
router = APIRouter(tags=["mastodon: media"])
W = Annotated[Wiring, Depends(wiring)]
UPLOAD_PATHS = ("/api/v1/media", "/api/v2/media")
MEDIA = scoped("write", "write:media")
MediaId = Annotated[
    str, Path(pattern=ID_PATTERN, description="A media attachment's id.", examples=["7251846523904100"])
]
NOT_FOUND = "Record not found"
IMAGE_MATRIX_LIMIT = 16_777_216  # pixels, as the instance says (configuration.media_attachments)
_UNIT = r"-?(?:1(?:\.0+)?|0?\.[0-9]+|0(?:\.[0-9]*)?)"  # a number from -1 to 1
FOCUS_PATTERN = rf"^$|^{_UNIT},{_UNIT}$"  # empty: none
FOCUS = re.compile(rf"{_UNIT},{_UNIT}")
ALLOWED = sorted(t for types, _ in LIMITS.values() for t in types)

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": f"The image or video ({', '.join(ALLOWED)})."},
                        "description": {"type": "string", "maxLength": MAX_ALT_TEXT, "pattern": ALT_PATTERN,
                                        "description": "Alt text, for screen readers."},
                        "focus": {"type": "string", "pattern": FOCUS_PATTERN,
                                  "description": "The focal point, `x,y`, each from -1.0 to 1.0."},
                    },
                }
            }
        },
    }
}  # fmt: skip
DESCRIBE_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            kind: {"schema": {"type": "object", "properties": {
                "description": {"type": "string", "maxLength": MAX_ALT_TEXT, "pattern": ALT_PATTERN},
                "focus": {"type": "string", "pattern": FOCUS_PATTERN}}}}
            for kind in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
        },
    }
}  # fmt: skip


def _invalid(field: str, why: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Validation failed: {field}: {why}")


def parse_focus(value: object) -> tuple[float, float] | None:
    """`x,y` with each in [-1, 1] (Mastodon's focal point); None when not given."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not FOCUS.fullmatch(value):
        raise _invalid("focus", "must be x,y with x and y from -1.0 to 1.0")
    x, y = (float(v) for v in value.split(","))
    return x, y


def _focus_text(focus: tuple[float, float] | None) -> str | None:
    return None if focus is None else f"{focus[0]},{focus[1]}"


def _description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid("description", "must be text")
    try:
        return clean_alt_text(value)
    except ValueError as exc:
        raise _invalid("description", str(exc).removeprefix("Value error, ")) from exc


def sniff(data: bytes, declared: str) -> tuple[str, int | None, int | None]:
    """The content type of the bytes, with an image's width and height: Pillow reads an image's header (never
    its pixels) and its format wins over the type the client declared; a video is taken as declared."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            found = Image.MIME.get(img.format or "", "")
            width, height = img.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        if media_type_of(declared) == "video":
            return declared, None, None
        raise _invalid("file", f"is not an image or video chirp takes ({', '.join(ALLOWED)})") from None
    if media_type_of(found) is None:
        raise _invalid("file", f"content type {found or 'unknown'} is not allowed; use one of {', '.join(ALLOWED)}")
    if width * height > IMAGE_MATRIX_LIMIT:
        raise _invalid("file", f"the image has {width}x{height} pixels, over {IMAGE_MATRIX_LIMIT}")
    return found, width, height


def attachment(media_id: int, up: Upload) -> dict[str, Any]:
    focus = parse_focus(up.focus)
    meta = image_meta(up.width, up.height, focus)
    return attachment_json(str(media_id), up.type, media_base() + up.key, up.alt_text, meta)


async def _upload(request: Request, w: Wiring, ids: Ids, caller: Caller) -> dict[str, Any]:
    store = w.media_store
    if store is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Media uploads are not configured here")
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise _invalid("file", "send the file as multipart/form-data")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:  # a malformed multipart body, or too many parts
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"the form could not be read: {exc}") from exc
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise _invalid("file", "can't be blank")
        description = _description(form.get("description"))
        focus = _focus_text(parse_focus(form.get("focus")))
        declared = (file.content_type or "").partition(";")[0].strip().lower()
        largest = max(upload_limit(w.settings, t) for t in LIMITS)
        if file.size is not None and file.size > largest:
            raise _invalid("file", f"is {file.size} bytes, over the limit of {largest}")
        data = await file.read()
    finally:
        await form.close()
    if not data:
        raise _invalid("file", "is empty")
    content_type, width, height = sniff(data, declared)
    media_type = media_type_of(content_type)
    assert media_type is not None  # sniff takes only allowed types
    if len(data) > upload_limit(w.settings, media_type):
        raise _invalid("file", f"is {len(data)} bytes, over the {media_type} limit of "
                               f"{upload_limit(w.settings, media_type)}")  # fmt: skip
    media_id = ids.next_id()
    key = new_key(caller.user_id, content_type, media_id)
    try:
        await asyncio.to_thread(store.put, key, data, content_type)
    except Exception as exc:  # botocore's errors: storage down, refused, timed out
        log.warning("media storage refused %s: %s", key, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Media storage is unavailable; try again",
                            headers={"Retry-After": "1"}) from exc  # fmt: skip
    up = Upload(caller.user_id, key, media_type, content_type, len(data), description, width, height, focus)
    await w.uploads.save(media_id, up, w.settings.media_upload_ttl_s)
    return attachment(media_id, up)


UPLOAD_RESPONSES = responses(400, 401, 403, 413, 422, 429, 503)


@router.post("/api/v2/media", dependencies=[MEDIA, limited("writes")], response_model=MediaAttachment,
             responses=UPLOAD_RESPONSES, openapi_extra=UPLOAD_BODY,
             summary="Upload an image or video; stored at once, so the answer is 200 with its url")  # fmt: skip
async def upload_v2(request: Request, w: W, ids: Ids, caller: Annotated[Caller, MEDIA]) -> dict[str, Any]:
    return await _upload(request, w, ids, caller)


@router.post("/api/v1/media", dependencies=[MEDIA, limited("writes")], response_model=MediaAttachment,
             responses=UPLOAD_RESPONSES, openapi_extra=UPLOAD_BODY, deprecated=True,
             summary="Upload an image or video (Mastodon v1; as v2)")  # fmt: skip
async def upload_v1(request: Request, w: W, ids: Ids, caller: Annotated[Caller, MEDIA]) -> dict[str, Any]:
    return await _upload(request, w, ids, caller)


async def _own(w: Wiring, media_id: str, caller: Caller) -> tuple[int, Upload]:
    try:
        mid = parse_id(media_id)
    except ValueError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
    up = await w.uploads.get(mid)
    if up is None or up.owner != caller.user_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return mid, up


@router.get("/api/v1/media/{media_id}", dependencies=[MEDIA, limited("writes")], response_model=MediaAttachment,
            responses=responses(401, 403, 404, 422, 429, 503),
            summary="One of your uploads (until it expires, CHIRP_MEDIA_UPLOAD_TTL_S)")  # fmt: skip
async def get_media(w: W, media_id: MediaId, caller: Annotated[Caller, MEDIA]) -> dict[str, Any]:
    return attachment(*await _own(w, media_id, caller))


@router.put("/api/v1/media/{media_id}", dependencies=[MEDIA, limited("writes")], response_model=MediaAttachment,
            responses=responses(400, 401, 403, 404, 413, 422, 429, 503), openapi_extra=DESCRIBE_BODY,
            summary="Change an upload's description (alt text) or focal point")  # fmt: skip
async def update_media(request: Request, w: W, media_id: MediaId, caller: Annotated[Caller, MEDIA]) -> dict[str, Any]:
    mid, up = await _own(w, media_id, caller)
    given = await params(request)
    changes: dict[str, Any] = {}
    if "description" in given:
        changes["alt_text"] = _description(given["description"])
    if "focus" in given:
        changes["focus"] = _focus_text(parse_focus(given["focus"]))
    if changes:
        up = dataclasses.replace(up, **changes)
        if not await w.uploads.replace(mid, up):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return attachment(mid, up)
