"""The push contract shared by the worker (publishes) and the API (relays): key names and the message.

Presence `{prefix}online:{user_id}` is set by an API process while a client of that user is connected;
the worker publishes on `{prefix}push:{user_id}` only when it exists. `prefix` is the base Redis prefix
(CHIRP_REDIS_PREFIX), never a timeline version's.
"""

from __future__ import annotations

from typing import Any

import orjson


def presence_key(prefix: str, user_id: int) -> str:
    return f"{prefix}online:{user_id}"


def channel(prefix: str, user_id: int) -> str:
    return f"{prefix}push:{user_id}"


def message(event: str, id: str, data: dict[str, Any]) -> bytes:
    """One pushed message: `{"event", "id", "data"}` as JSON, relayed verbatim as SSE or a WebSocket frame."""
    return orjson.dumps({"event": event, "id": id, "data": data}, option=orjson.OPT_UTC_Z)
