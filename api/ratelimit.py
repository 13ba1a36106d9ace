"""Abuse limits in front of the routes, kept in Redis so that every API process counts the same hits.

The counting is the `limits` package's sliding-window counter (two counters per key, one Lua call per hit):
it smooths the edge of a fixed window without keeping a list of hits. Routes name their rules with the
dependencies in api/throttle.py.

Over a limit the answer is 429 with `Retry-After` and the IETF `RateLimit-Limit` / `RateLimit-Remaining` /
`RateLimit-Reset` headers (Mastodon's `X-RateLimit-*` too); under it the same headers tell the client where
it stands. If Redis cannot answer, the request goes through (logged and counted): the limits guard against
abuse, they are not worth an outage.

On a Redis Cluster (CHIRP_REDIS_CLUSTER_NODES) the counters live in the package's cluster storage: its two
counters per key share a hash tag, so each hit's script runs on one node.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import HTTPConnection

from infra import redisnodes
from infra.settings import Settings

log = logging.getLogger("chirp.api.ratelimit")

OPERATOR_HEADER = "x-chirp-operator"
RULES = ("register", "anonymous", "posts", "deletes", "follows", "writes", "search", "streams", "logins")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window frees a hit

    def headers(self) -> dict[str, str]:
        reset_at = datetime.fromtimestamp(time.time() + self.reset_s, UTC)
        h = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": reset_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        if not self.allowed:
            h["Retry-After"] = str(max(self.reset_s, 1))
        return h


class RateLimits:
    """The rules from Settings and the shared counters. `storage` is Redis in every process; tests may give
    the package's in-memory storage."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.enabled = settings.rate_limits == "on"
        self.operator_token = settings.operator_secret(create=self.enabled)
        self.rules: dict[str, RateLimitItem] = {name: parse(getattr(settings, f"rate_limit_{name}")) for name in RULES}
        self.storage = storage or _redis_storage(settings)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    async def hit(self, rule: str, who: str) -> Verdict | None:
        """Counts one request of `who` against `rule`; None when the counters cannot be reached."""
        item = self.rules[rule]
        try:
            allowed = await self.limiter.hit(item, rule, who)
            stats = await self.limiter.get_window_stats(item, rule, who)
        except Exception as exc:
            log.warning("rate limit %s not checked, counters unreachable: %s", rule, type(exc).__name__)
            return None
        reset_s = max(math.ceil(stats.reset_time - time.time()), 0)
        return Verdict(allowed, item.amount, max(stats.remaining, 0), reset_s)

    def exempt(self, request: HTTPConnection) -> bool:
        if not self.enabled:
            return True
        sent = request.headers.get(OPERATOR_HEADER)
        return bool(self.operator_token) and sent is not None and _same(sent, self.operator_token)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _redis_storage(settings: Settings) -> Storage:
    if settings.rate_limits != "on":
        return MemoryStorage()
    prefix = f"{settings.redis_prefix}rl"
    if settings.redis_cluster:
        nodes = ",".join(f"{host}:{port}" for host, port in settings.redis_nodes)
        creds = {k: v for k, v in redisnodes.credentials(settings).items() if v is not None}
        uri = f"async+redis+cluster://{nodes}"
        return RedisClusterStorage(uri, implementation="redispy", key_prefix=prefix, **creds)
    uri = (
        "async+" + settings.redis_url
        if settings.redis_url.startswith(("redis://", "rediss://"))
        else settings.redis_url
    )
    return RedisStorage(uri, implementation="redispy", key_prefix=prefix)
