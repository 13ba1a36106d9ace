"""CORS for the routes browsers' Mastodon clients call from other origins: /api/*, /oauth/token,
/oauth/revoke, /.well-known/* and /nodeinfo/*. Any origin may call them (they are authorized by bearer
tokens, never by cookies), and may read the paging and rate-limit headers. Preflights are answered here."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.headers import SetResponseHeaders

PATHS = ("/api/", "/.well-known/", "/nodeinfo/")
EXACT = frozenset({"/oauth/token", "/oauth/revoke"})
EXPOSED = (
    "Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Idempotent-Replayed, "
    "X-Chirp-Position, X-Chirp-Caught-Up"
)
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def covered(path: str) -> bool:
    return path.startswith(PATHS) or path in EXACT


class Cors(SetResponseHeaders):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS" and covered(scope["path"]):
            headers = Headers(scope=scope)
            if "access-control-request-method" in headers:
                asked = headers.get("access-control-request-headers")
                preflight = Response(status_code=204, headers={
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Methods": METHODS,
                    "Access-Control-Allow-Headers": asked or "Authorization, Content-Type, Idempotency-Key",
                    "Access-Control-Max-Age": "86400",
                    "Vary": "Access-Control-Request-Headers",
                })  # fmt: skip
                await preflight(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def headers_for(self, scope: Scope, status: int) -> dict[str, str] | None:
        if not covered(scope["path"]):
            return None
        return {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED}
