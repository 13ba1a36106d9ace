"""Media uploads: a presigned URL (signed by botocore) to put the bytes in S3-compatible storage; chirp never
carries them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status

from api.auth import Actor
from api.media import Upload, check_upload, new_key
from api.models import MediaUploadIn, MediaUploadOut
from api.render import json_response, media_base
from api.routers.common import errors
from api.throttle import per_user
from api.wiring import Wiring, wiring

router = APIRouter(tags=["media"])
W = Annotated[Wiring, Depends(wiring)]
ERRORS: dict[int | str, dict[str, Any]] = errors(401, 413, 422, 503)


@router.post(
    "/media",
    dependencies=[per_user("writes")],
    status_code=status.HTTP_201_CREATED,
    response_model=MediaUploadOut,
    responses=ERRORS,
    summary="Start a media upload",
)
async def upload(body: MediaUploadIn, actor: Actor, w: W) -> Response:
    """Checks type and size, picks an unguessable key under the user's own prefix, and answers with a
    presigned PUT for the client to send the bytes to storage; then `POST /tweets` names the `media_id`.
    Readers get the media from the CDN (`url`)."""
    s = w.settings  # the app includes this route only when media storage is configured (CHIRP_S3_*)
    assert w.media_store is not None  # wired whenever storage is configured
    problem = check_upload(body.type, body.content_type, body.size_bytes)
    if problem:
        raise HTTPException(422, problem)
    media_id = w.ids.next_id()
    key = new_key(actor, body.content_type, media_id)
    signed = w.media_store.sign_put(key, body.content_type, body.size_bytes, datetime.now(UTC))
    up = Upload(actor, key, body.type, body.content_type, body.size_bytes, body.alt_text)
    await w.uploads.save(media_id, up, s.media_upload_ttl_s)
    out = {
        "media_id": str(media_id),
        "key": key,
        "url": media_base() + key,
        "type": body.type,
        "content_type": body.content_type,
        "size_bytes": body.size_bytes,
        "alt_text": body.alt_text,
        "upload": {"url": signed.url, "method": "PUT", "headers": signed.headers, "expires_at": signed.expires_at},
    }
    return json_response(out, status.HTTP_201_CREATED)
