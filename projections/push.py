"""The push contract between the worker (publishes) and the API (subscribes, relays): key names and messages.

Presence: `<prefix>online:<user>` exists (with a TTL of about three heartbeats) while an API process has a
client of that user connected; the worker publishes for a user only then. Channel: `<prefix>push:<user>`.
A message is one JSON object `{"event", "id", "data"}` that the API relays verbatim (SSE or WebSocket).
`prefix` is the BASE Redis prefix (settings.redis_prefix), never a timeline version's prefix.
"""

from __future__ import annotations

from typing import Any

import orjson


def presence_key(prefix: str, user_id: int) -> str:
    return f"{prefix}online:{user_id}"


def channel(prefix: str, user_id: int) -> str:
    return f"{prefix}push:{user_id}"


def message(event: str, id: str, data: dict[str, Any]) -> bytes:
    """`event`: "update", "delete" or "notification"; `id`: the SSE id ("" for none)."""
    return orjson.dumps({"event": event, "id": id, "data": data}, option=orjson.OPT_UTC_Z)
