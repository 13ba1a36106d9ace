"""405 answers name every method the path takes.

Starlette answers 405 from the first route whose path matches, so its `Allow` lists that route's methods
alone (GET /tweets/{id} says `GET, HEAD` though PATCH and DELETE work too). This puts the union of every
matching route's methods in the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from api.headers import SetResponseHeaders

RouteTable = list[tuple[re.Pattern[str], frozenset[str]]]


def route_table(routes: Iterable[BaseRoute]) -> RouteTable:
    """(path pattern, methods) of every HTTP route, flattened out of the routers (FastAPI nests them)."""
    return [(r.path_regex, frozenset(r.methods)) for r in routes if isinstance(r, Route) and r.methods]


def methods_for(scope: Scope) -> set[str]:
    """The methods some route takes at this path (none: the path is unknown)."""
    table: RouteTable = scope["app"].state.route_table
    return {m for pattern, methods in table if pattern.match(scope["path"]) for m in methods}


class AllowHeader(SetResponseHeaders):
    def headers_for(self, scope: Scope, status: int) -> dict[str, str] | None:
        return {"Allow": ", ".join(sorted(methods_for(scope)))} if status == 405 else None
