"""Helpers shared by read routes: paging parameters and the read side (bodies: api/render.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, status

from api.models import Author
from api.wiring import Wiring
from projections.model import UserView
from projections.queries import Queries
from projections.timeline import BadCursor, decode_cursor
from schemas.ids import ID_PATTERN

MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, description=f"Page size, 1-{MAX_LIMIT} (larger values are capped).")]
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page (an id).", pattern=ID_PATTERN)]


def page_bounds(limit: int, cursor: str | None) -> tuple[int, int | None]:
    try:
        return min(limit, MAX_LIMIT), decode_cursor(cursor)
    except BadCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad cursor: {exc}") from exc


def queries(w: Wiring) -> Queries:
    if w.queries is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the read side is not connected")
    return w.queries


def author_out(u: UserView) -> Author:
    return Author(user_id=str(u.user_id), handle=u.handle, display_name=u.display_name)
