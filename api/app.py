"""`create_app(settings)` builds the API; `python -m api` serves it with uvicorn."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cassandra.protocol import ErrorMessage
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from redis import exceptions as redis_errors
from starlette.exceptions import HTTPException

from api import idempotency, mastodon, metrics, positions, web
from api.allow import AllowHeader, route_table
from api.cors import Cors
from api.fastlane import PostFastLane, TimelineFastLane
from api.idempotency import Idempotency
from api.limits import BodySizeLimit
from api.mastodon import errors as mastodon_errors
from api.positions import ReadAfter, WritePositions
from api.pressure import ReadPressureSignal
from api.routers import (
    follows,
    health,
    media,
    notifications,
    search,
    stream,
    timeline,
    tokens,
    trends,
    tweets,
    users,
)
from api.throttle import RateLimitHeaders, document_limits
from api.wiring import Wiring, connect
from infra import heap
from infra.eventlog import EventLogUnavailable
from infra.faults import TRANSIENT_TYPES, is_transient
from infra.settings import Settings
from projections.wire import set_media_base
from schemas.ids import IdsUnavailable

log = logging.getLogger("chirp.api")

DESCRIPTION = """
chirp's HTTP API. Every write is validated, authenticated with a bearer token, and appended as an
immutable Avro event to Kafka; the response comes only after Kafka acknowledged it (acks=all).
Ids are 64-bit, time-sortable, and sent as decimal strings.

Register with `POST /users` to get a token, then send `Authorization: Bearer <token>` on every write.

The same service speaks Mastodon's client API (`/api/v1`, `/api/v2`, `/oauth`; the `mastodon:` tags), so Mastodon
apps and libraries can use it; its routes answer errors in Mastodon's shape, `{"error": "..."}`.
"""

NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

TAGS = [
    {"name": "timeline", "description": "The home timeline."},
    {"name": "users", "description": "Accounts, profiles and the follow lists."},
    {"name": "tweets", "description": "Posts, replies, edits, deletes and likes."},
    {"name": "follows", "description": "The follow graph."},
    {"name": "notifications", "description": "Mentions, replies, likes and new followers; unread count, read marker."},
    {"name": "search", "description": "Search over tweet text: words, #hashtags, @mentions, phrases."},
    {"name": "media", "description": "Uploads of images, GIFs and videos, straight to storage; served by the CDN."},
    {"name": "trends", "description": "Trending hashtags over the last hour or day."},
    {"name": "health", "description": "Liveness and readiness probes."},
    *mastodon.TAGS,
]


def create_app(settings: Settings, wiring: Wiring | None = None) -> FastAPI:
    """Builds the API. Tests may hand in a ready `wiring` (fakes); otherwise real services are connected."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        w = wiring or await connect(settings)
        app.state.wiring = w
        if wiring is None:  # a real process (tests on fakes share one process: no port of their own)
            metrics.serve_apart(settings)
        if w.push is not None:
            w.push.on_exit_signals()
        if wiring is None:
            heap.settle(settings.gc_young_threshold)
        log.info("chirp API ready (Kafka %s, keyspace %s)", settings.kafka_bootstrap, settings.keyspace)
        try:
            yield
        finally:
            if wiring is None:
                await w.close()

    app = FastAPI(
        title="chirp",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        # chirp sets up no OpenTelemetry provider (its metrics are Prometheus, api/metrics.py); left on,
        # FastAPI would look the global providers up, reading os.environ, on every request.
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.settings = settings
    set_media_base(settings.media_base)
    routers = [timeline, stream, users, tokens, tweets, follows, notifications, search, trends, health]
    if settings.media_storage:  # without storage there is no upload route (tweets can still link media by url)
        routers.append(media)
    included = [*(r.router for r in routers), *mastodon.ROUTERS]
    for router in included:
        app.include_router(router)
    web.install(app)  # the browser app at `/`, outside the schema
    app.state.route_table = route_table([*app.router.routes, *(route for r in included for route in r.routes)])
    document_limits(app)
    _document_middleware(app)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(EventLogUnavailable, _event_log_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(IdsUnavailable, _ids_unavailable)
    # ResponseError and ErrorMessage: only the transient ones by their code (is_transient), the rest re-raised
    for unavailable in (*TRANSIENT_TYPES, redis_errors.ResponseError, ErrorMessage):
        app.add_exception_handler(unavailable, _store_unavailable)
    app.add_middleware(PostFastLane)  # innermost: what wraps the route (limits, idempotency, positions) wraps it
    app.add_middleware(WritePositions)  # inside Idempotency, which keeps the header: a replay has the first one
    app.add_middleware(Idempotency)  # inside BodySizeLimit: the body it keeps a digest of is capped
    uploads = settings.media_upload_max_bytes + 65_536  # the file, and the form's other fields around it
    larger = dict.fromkeys(mastodon.UPLOAD_PATHS, uploads) if settings.media_storage else {}
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, larger=larger, mastodon=mastodon_errors.is_mastodon
    )
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(AllowHeader)
    app.add_middleware(TimelineFastLane)
    app.add_middleware(ReadAfter)  # outside the fast lane: GET /timeline waits for a position too
    app.add_middleware(ReadPressureSignal, slow_s=settings.read_slow_ms / 1000)
    app.add_middleware(Cors)  # outermost: preflights are answered before anything else runs
    metrics.install(app, settings)
    return app


def _document_middleware(app: FastAPI) -> None:
    """The schema also shows what middleware serves: the Idempotency-Key header of the writes."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags)  # fmt: skip
            app.openapi_schema = positions.document(idempotency.document(_with_body_errors(mastodon.document(schema))))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_body_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation that takes a body may answer 400 (not JSON, not UTF-8: Starlette's parser says so)."""
    for operations in schema.get("paths", {}).values():
        for op in operations.values():
            if "requestBody" in op:
                op.setdefault("responses", {}).setdefault(
                    "400",
                    {"description": "The body could not be parsed (not JSON, or not UTF-8).",
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                )  # fmt: skip
    return schema


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Mastodon's routes answer `{"error": ...}`; chirp's own keep FastAPI's `{"detail": ...}`."""
    if mastodon_errors.is_mastodon(request.url.path):
        return JSONResponse(mastodon_errors.body(exc.detail), status_code=exc.status_code, headers=exc.headers)
    return await http_exception_handler(request, exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = jsonable_encoder(exc.errors(), custom_encoder={ValueError: str})
    for e in errors:
        e.pop("input", None)  # never echo a body back (it may be large or hold secrets)
        e["msg"] = str(e.get("msg", "")).removeprefix("Value error, ")
        if isinstance(e.get("ctx"), dict):
            e["ctx"] = {k: str(v) for k, v in e["ctx"].items()}
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid request")
    if mastodon_errors.is_mastodon(request.url.path):
        return JSONResponse({"error": f"Validation failed: {message}"}, status_code=422)
    return JSONResponse({"detail": errors, "message": message}, status_code=422)


async def _event_log_unavailable(request: Request, exc: EventLogUnavailable) -> JSONResponse:
    log.warning("write refused: %s (maybe written: %s)", exc, exc.maybe_written)
    if exc.maybe_written:
        request.scope.setdefault("state", {})[idempotency.MAYBE_WRITTEN] = True
    detail = (
        "the event log did not confirm the write in time; it may have been written: retry with the same "
        "Idempotency-Key to be sure it is written once"
        if exc.maybe_written
        else "the event log is unavailable, nothing was written; retry later"
    )
    return JSONResponse(
        {"detail": detail},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _ids_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The process's id-node lease lapsed (Redis unreachable for a lease's time): nothing was written."""
    log.warning("write refused: %s", exc)
    return JSONResponse(
        {"detail": "this server cannot make ids now, nothing was written; retry later"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A store that cannot answer now (down, failing over, full, overloaded; infra/faults.py): the client may
    retry, and nothing half-done was reported as done, since writes are acknowledged only after Kafka."""
    if not is_transient(exc):
        raise exc
    log.warning("request failed, a store is unavailable: %s: %s", type(exc).__name__, exc)
    return JSONResponse(
        {"detail": "a backing store is unavailable; retry later"}, status_code=503, headers={"Retry-After": "1"}
    )


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory api.app:app_from_env`."""
    return create_app(Settings())
