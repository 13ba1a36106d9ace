"""Shared response documentation for routes."""

from __future__ import annotations

from typing import Any

from api.models import Problem

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or invalid bearer token."},
    403: {"model": Problem, "description": "The body names a user other than the token's."},
    413: {"model": Problem, "description": "The body is larger than the limit."},
    422: {"model": Problem, "description": "The request is malformed; `message` says what is wrong."},
    429: {
        "model": Problem,
        "description": "Over a rate limit; `Retry-After` says when to try again. The `RateLimit-*` headers "
        "come with every answer of a limited route.",
    },
    503: {"model": Problem, "description": "Kafka did not acknowledge the event; nothing was written."},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: ERRORS[c] for c in codes}
