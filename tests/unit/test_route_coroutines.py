"""Every route and every dependency of one is a coroutine: FastAPI runs a plain function in its thread pool,
a hop to a worker thread and back on each request (on POST /tweets, one sync dependency cost ~10% of the API
process's time in that hop, plus the worker thread's own)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.app import create_app
from infra.settings import Settings


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The routes, through the routers the app includes."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        inner = getattr(r, "router", None) or getattr(r, "original_router", None)
        yield from api_routes(getattr(r, "routes", None) or getattr(inner, "routes", None) or ())


def awaited(call: Any) -> bool:
    """Whether FastAPI awaits `call` on the event loop: a coroutine or async generator function, or an object
    whose __call__ is one."""
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    return not inspect.isroutine(call) and inspect.iscoroutinefunction(type(call).__call__)


def blocking(d: Dependant) -> Iterator[str]:
    """Dependencies (at any depth) that FastAPI would run in its thread pool."""
    for sub in d.dependencies:
        call = sub.call
        if call is not None and not awaited(call):
            yield getattr(call, "__qualname__", repr(call))
        yield from blocking(sub)


def test_no_route_or_dependency_runs_in_the_thread_pool() -> None:
    routes = list(api_routes(create_app(Settings()).router.routes))
    assert len(routes) > 50  # the walk reached the included routers
    found = {f"{r.path}: {name}" for r in routes for name in blocking(r.dependant)}
    found |= {r.path for r in routes if not inspect.iscoroutinefunction(r.endpoint)}
    assert not found, sorted(found)
