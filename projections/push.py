"""The push contract between the worker (publishes) and the API (subscribes, relays): key names and messages.

Presence: a user's presence key (`presence_key`) exists (with a TTL of about three heartbeats) while an API
process has a client of that user connected; the worker publishes for a user only then, on the user's
`channel`. A message is one JSON object `{"event", "id", "data"}` that the API relays verbatim (SSE or WebSocket).
The `online_index` lists the online users for cheap checks in the worker: a sorted set (score:
when their presence lapses, epoch seconds), beside the presence keys: the worker skips all publishing when it
is empty, and walks it instead of a follower set when it is the smaller one. The presence key stays the
authority (its TTL); API processes prune it. The key names are in projections/stores/keys.py.
`prefix` is the BASE Redis prefix (settings.redis_prefix), never a timeline version's prefix.
"""

from __future__ import annotations

from typing import Any

import orjson

from projections.stores.keys import channel, online_index, presence_key, user_of_channel

__all__ = ["channel", "message", "online_index", "presence_key", "user_of_channel"]


def message(event: str, id: str, data: dict[str, Any]) -> bytes:
    """`event`: "update", "delete" or "notification"; `id`: the SSE id ("" for none)."""
    return orjson.dumps({"event": event, "id": id, "data": data}, option=orjson.OPT_UTC_Z)
