"""Prometheus metrics of the API: request latency by route template, method and status; requests in flight.

A pure ASGI middleware: BaseHTTPMiddleware would add a task and a memory stream to every request, and the
API serves thousands a second. Labels are bounded: the route's template (`/tweets/{tweet_id}`, never the
raw path), a known method or "other", the status code.

Each uvicorn worker process (`CHIRP_API_WORKERS`) keeps its own numbers and `GET /metrics` answers with
those of the process that took the scrape. prometheus_client's multiprocess mode would need its directory
set in the environment before the import, wiped at every start, and dead workers' files cleaned, and
uvicorn has no hook for that; to scrape every process, run one per port (one worker each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.settings import Settings

log = logging.getLogger("chirp.api")
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

DURATION = Histogram(
    "chirp_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template, method and status.",
    ["route", "method", "status"],
    buckets=BUCKETS,
)
IN_FLIGHT = Gauge("chirp_http_requests_in_flight", "Requests being served by this process.")


class _InFlight:
    """The count the gauge reads at scrape time: cheaper than Gauge.inc/dec (a lock each), and only the event
    loop's thread changes it."""

    n = 0


_in_flight = _InFlight()
IN_FLIGHT.set_function(lambda: _in_flight.n)


class _ViewCacheMetrics:
    """The view cache of the version this process serves (projections/stores/redis_views.py), read at scrape
    time: its counters are plain integers the read path bumps, with no lock."""

    def __init__(self) -> None:
        self.source: Callable[[], Any] = lambda: None

    def collect(self) -> Iterator[Metric]:
        cache = self.source()
        if cache is None:
            return
        yield CounterMetricFamily(
            "chirp_view_cache_hits", "Tweet views served from this process's view cache.", value=cache.hits
        )
        yield CounterMetricFamily(
            "chirp_view_cache_misses", "Tweet views read from Redis and kept in the view cache.", value=cache.misses
        )
        yield CounterMetricFamily(
            "chirp_view_cache_invalidations", "Redis invalidation messages the view cache handled.",
            value=cache.invalidations,
        )  # fmt: skip
        yield GaugeMetricFamily("chirp_view_cache_views", "Tweet views the view cache holds.", value=len(cache))
        yield GaugeMetricFamily(
            "chirp_view_cache_live", "1 while every Redis node's invalidations reach the view cache, else 0 "
            "(nothing is served from it).", value=int(cache.live),
        )  # fmt: skip


VIEW_CACHE = _ViewCacheMetrics()
REGISTRY.register(VIEW_CACHE)


def watch_views(source: Callable[[], Any]) -> None:
    """What the view cache metrics read: the serving version's cache (None: no cache)."""
    VIEW_CACHE.source = source


def route_label(scope: Scope) -> str:
    """The template of the route the router chose (it sets `scope["route"]`), or "unmatched" when none did:
    a 404, or a request refused before routing (413)."""
    template = getattr(scope.get("route"), "path_format", None)
    return template if isinstance(template, str) else UNMATCHED


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


class RequestMetrics:
    """Times every HTTP request and counts those in flight; outermost, so refused requests count too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, str, int], Any] = {}  # labels -> histogram child: skips labels() per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        _in_flight.n += 1
        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = perf_counter() - started
            _in_flight.n -= 1
            self._series_for(route_label(scope), method_label(scope["method"]), status).observe(elapsed)

    def _series_for(self, route: str, method: str, status: int) -> Any:
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = DURATION.labels(route, method, str(status))
        return series


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    include_in_schema=True,
    response_class=Response,
    summary="Prometheus metrics of this API process",
    responses={
        200: {
            "description": "The Prometheus text format (OpenMetrics when the scraper asks for it).",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": "chirp_http_requests_in_flight 1.0\n"}},
        }
    },
)
async def metrics(request: Request) -> Response:
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(REGISTRY), media_type=content_type)


def install(app: FastAPI, settings: Settings) -> None:
    """The middleware, and `GET /metrics` on the API's own port only when no metrics port is set (the public
    port should not show a scraper's view of the service); call it last, after the other middleware."""
    if not settings.api_metrics_port:
        app.include_router(router)
    app.add_middleware(RequestMetrics)


def serve_apart(settings: Settings) -> None:
    """Starts this process's metrics endpoint on CHIRP_API_METRICS_PORT (once; a taken port only warns)."""
    port = settings.api_metrics_port
    if not port or port in _served:
        return
    try:
        start_http_server(port, addr=settings.api_metrics_host, registry=REGISTRY)
        _served.add(port)
    except OSError as exc:
        log.warning("metrics port %d not served: %s", port, exc)


_served: set[int] = set()
