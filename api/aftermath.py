"""Side writes after Kafka has taken an event: the client is owed its 2xx by then, whatever they do.

They only make the caller's next read see its own write sooner (read-your-writes marks); the worker
projects the event from the log in any case, which repairs what a failed side write left undone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

log = logging.getLogger("chirp.api")

T = TypeVar("T")


async def after_append(what: str, side_write: Awaitable[T], fallback: T) -> T:
    """Awaits `side_write`; if it fails, logs it and returns `fallback` instead of failing the request."""
    try:
        return await side_write
    except Exception as exc:
        log.warning("%s failed after the event was appended (%s); the projection will repair it", what, exc)
        return fallback
