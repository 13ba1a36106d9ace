"""405 answers name every method the path takes.

Starlette answers 405 from the first route whose path matches, so its `Allow` lists that route's methods
alone (GET /tweets/{id} says `GET, HEAD` though PATCH and DELETE work too). This puts the union of every
matching route's methods in the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RouteTable = list[tuple[re.Pattern[str], frozenset[str]]]


def route_table(routes: Iterable[BaseRoute]) -> RouteTable:
    """(path pattern, methods) of every HTTP route, flattened out of the routers (FastAPI nests them)."""
    return [(r.path_regex, frozenset(r.methods)) for r in routes if isinstance(r, Route) and r.methods]


def methods_for(scope: Scope) -> set[str]:
    """The methods some route takes at this path (none: the path is unknown)."""
    table: RouteTable = scope["app"].state.route_table
    return {m for pattern, methods in table if pattern.match(scope["path"]) for m in methods}


class AllowHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def fixed(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = ", ".join(sorted(methods_for(scope))).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allowed)]}
            await send(message)

        await self.app(scope, receive, fixed)
