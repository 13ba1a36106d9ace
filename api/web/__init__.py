"""The web app: chirp in a browser, served at `/` as static files (plain ES modules, no build step) that use only
the public Mastodon-compatible API and OAuth with PKCE, so the same files could point at any such server.

The page's paths (`/`, `/@handle`, `/@handle/<id>`, `/tags/<tag>`, `/web/...`) all answer the one HTML shell and
the app routes in the browser; `/@handle` and `/tags/<tag>` are the URLs Mastodon's entities already link to.
None of it is in the OpenAPI schema (the schemathesis fuzz test reads it). A Content-Security-Policy allows only
this origin, its WebSocket and the media storage's origin: nothing the page loads can leave the machine's own
services."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.mastodon.site import base_url, streaming_url
from infra.settings import Settings

STATIC = Path(__file__).parent / "static"
ASSETS = "/web/static"
router = APIRouter(include_in_schema=False)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def policy(request: Request, settings: Settings) -> str:
    """Only this origin (and its WebSocket) for code and data; images and video also from the media origin."""
    base = base_url(request, settings)
    media = _origin(settings.media_base)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {media}".strip(),
            f"media-src 'self' blob: {media}".strip(),
            f"connect-src 'self' {streaming_url(base)}",
            "font-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def shell(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": policy(request, settings),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/")
async def home(request: Request) -> Response:
    return shell(request)


@router.get("/@{path:path}")
async def profile(request: Request, path: str) -> Response:
    return shell(request)


@router.get("/tags/{tag}")
async def tag(request: Request, tag: str) -> Response:
    return shell(request)


@router.get("/web/{path:path}")
async def screen(request: Request, path: str) -> Response:
    return shell(request)


class Assets(StaticFiles):
    """The app's files, revalidated on each load (ETag / Last-Modified answer 304) so an update shows at once."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install(app: FastAPI) -> None:
    """The assets first: the `/web/{path}` screens would otherwise answer their paths with the shell."""
    app.mount(ASSETS, Assets(directory=STATIC), name="web-static")
    app.include_router(router)
