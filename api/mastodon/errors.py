"""Mastodon's error shape, `{"error": "...", "error_description"?: ...}`, on every Mastodon route (the paths
below): an HTTPException's detail is the message, or the whole body when it is a dict (OAuth errors and the
registration's per-field `details`). Chirp's own routes keep `{"detail": ...}`."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field

PREFIXES = ("/api/v1/", "/api/v2/", "/oauth/", "/.well-known/", "/nodeinfo/")


def is_mastodon(path: str) -> bool:
    return path.startswith(PREFIXES)


class MastodonError(BaseModel):
    error: str = Field(description="What went wrong (OAuth routes: the RFC 6749 error code).",
                       examples=["The access token is invalid"])  # fmt: skip
    error_description: str | None = Field(None, description="OAuth routes: a readable explanation.")
    details: dict[str, list[dict[str, str]]] | None = Field(
        None, description="Registration: per field, `{error: ERR_TAKEN|ERR_INVALID|..., description}`."
    )


def body(detail: Any) -> dict[str, Any]:
    return detail if isinstance(detail, dict) and "error" in detail else {"error": str(detail)}


def fail(status: int, error: str, description: str | None = None, headers: dict[str, str] | None = None) -> None:
    detail: dict[str, Any] = {"error": error}
    if description is not None:
        detail["error_description"] = description
    raise HTTPException(status, detail, headers=headers)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI answers of a Mastodon route, in Mastodon's error shape."""
    text = {
        400: "The request is malformed (OAuth: `invalid_request`, `invalid_grant`, `unsupported_grant_type`, ...).",
        401: "Missing, invalid, expired or revoked access token (or client credentials).",
        403: "The token lacks the scope this route needs.",
        404: "Not found.",
        409: "Someone else changed the record meanwhile; try again.",
        413: "The body is larger than the limit.",
        422: "A parameter is missing or invalid; `error` says which.",
        429: "Over a rate limit; `Retry-After` says when to try again.",
        503: "A backing store or the event log is unavailable; nothing was written.",
    }
    return {c: {"model": MastodonError, "description": text[c]} for c in codes}
