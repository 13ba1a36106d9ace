"""Each user's last write positions, for a while (`lw:<user>` under the base prefix, shared by every version: a log
position means the same to all of them). The API notes them after Kafka took a write; a Mastodon home timeline
waits for them, so that a client sees its own post at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.eventlog import Position
from projections.positions import progress_ends
from projections.stores.keys import last_writes

# Keeps the furthest offset per partition (two writes of one user may be noted out of order).
_REMEMBER = """
for i = 1, #ARGV - 1, 2 do
  local now = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > now then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[#ARGV])
return 1
"""


class RedisWriteMarks:
    def __init__(self, client: Any, prefix: str, ttl_s: int) -> None:
        self.r = client
        self.p = prefix
        self.ttl_s = ttl_s
        self._remember = client.register_script(_REMEMBER)

    async def remember(self, user_id: int, positions: Iterable[Position]) -> None:
        args: list[Any] = []
        for k, end in progress_ends(positions).items():
            args += [k, end]
        if args:
            await self._remember(keys=[last_writes(self.p, user_id)], args=[*args, self.ttl_s])

    async def of(self, user_id: int) -> dict[str, int]:
        """`topic:partition` -> the offset the worker must have reached to have applied the user's recent writes."""
        raw = await self.r.hgetall(last_writes(self.p, user_id))
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
