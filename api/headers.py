"""Reading the request's credentials and client, one way for every route and middleware; and middleware
that sets response headers decided after the route ran (from the scope and the status)."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (the scheme in any case), or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(conn: HTTPConnection) -> str:
    """The peer address; a trusted reverse proxy's X-Forwarded-For is applied by uvicorn before this."""
    return conn.client.host if conn.client else "unknown"


def caller_key(user_id: int | None, conn: HTTPConnection) -> str:
    """Whom per-caller state (rate limits, idempotency keys) belongs to: the user, else the client address."""
    return f"u{user_id}" if user_id is not None else f"a{client_address(conn)}"


class SetResponseHeaders:
    """Calls `headers_for(scope, status)` as the response starts and sets what it returns (replacing
    headers of the same name). Subclasses say which headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def headers_for(self, scope: Scope, status: int) -> dict[str, str] | None:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = self.headers_for(scope, message["status"])
                if extra:
                    names = {k.lower().encode() for k in extra}
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                    added = [(k.lower().encode(), v.encode("latin-1")) for k, v in extra.items()]
                    message = {**message, "headers": [*kept, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
