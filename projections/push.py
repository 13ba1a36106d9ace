"""The push contract between the worker (publishes) and the API (subscribes, relays): key names and messages.

Presence: `<prefix>online:<user>` exists (with a TTL of about three heartbeats) while an API process has a
client of that user connected; the worker publishes for a user only then. Channel: `<prefix>push:<user>`.
A message is one JSON object `{"event", "id", "data"}` that the API relays verbatim (SSE or WebSocket).
`<prefix>online` (online_index) lists the online users for cheap checks in the worker.
`prefix` is the BASE Redis prefix (settings.redis_prefix), never a timeline version's prefix.
"""

from __future__ import annotations

from typing import Any

import orjson


def presence_key(prefix: str, user_id: int) -> str:
    return f"{prefix}online:{user_id}"


def channel(prefix: str, user_id: int) -> str:
    return f"{prefix}push:{user_id}"


def online_index(prefix: str) -> str:
    """A sorted set of the users online (score: when their presence lapses, epoch seconds), beside the
    presence keys: the worker skips all publishing when it is empty, and walks it instead of a follower set
    when it is the smaller one. The presence key stays the authority (its TTL); API processes prune it."""
    return f"{prefix}online"


def message(event: str, id: str, data: dict[str, Any]) -> bytes:
    """`event`: "update", "delete" or "notification"; `id`: the SSE id ("" for none)."""
    return orjson.dumps({"event": event, "id": id, "data": data}, option=orjson.OPT_UTC_Z)
