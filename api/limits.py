"""Caps request bodies before any parsing, whether or not the client sent Content-Length."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY = "chirp.body"


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body over once, then passes on to the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def buffered(scope: Scope, receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (as BodySizeLimit, outside, capped and kept it) and a receive that hands it over."""
    body = scope.get(BODY)
    if body is None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(chunks)
    return body, replaying(body, receive)


class BodySizeLimit:
    """Buffers each request body up to `max_bytes` and answers 413 beyond it.

    Bodies here are small JSON documents, so buffering costs nothing and lets the limit hold
    for chunked uploads too. The paths in `larger` (file uploads) have their own limit; the answer is
    `{"error": ...}` on paths `mastodon` says are Mastodon's, else `{"detail": ...}`.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None,
        mastodon: Callable[[str], bool] = lambda path: False,
    ) -> None:  # fmt: skip
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}
        self.mastodon = mastodon

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > limit:
                await self._reject(scope, send, limit)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope[BODY] = body  # for the middleware inside (Idempotency), which need not read it again
        await self.app(scope, replaying(body, receive), send)

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        message = f"request body is larger than {limit} bytes"
        body = orjson.dumps({"error" if self.mastodon(scope["path"]) else "detail": message})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
