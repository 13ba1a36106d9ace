"""Serves the API: `python -m api` (what `make run` starts)."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from infra.logs import setup_logging
from infra.settings import Settings


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level)
    url = f"http://{settings.api_host}:{settings.api_port}"
    print(f"chirp API listening on {url} (web app: /, docs: /docs)", flush=True)
    options: dict[str, Any] = {
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": settings.log_level,
        "access_log": False,
        "log_config": None,  # uvicorn's records go to chirp's handlers, whose filter strips tokens (infra/logs.py)
        # X-Forwarded-For names the client only when it comes from a proxy chirp is told to trust; otherwise
        # anyone could pick the address its rate limits are counted under.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    if settings.api_reuse_port:
        config = uvicorn.Config("api.app:app_from_env", **options)
        uvicorn.Server(config).run(sockets=[shared_socket(settings.api_host, settings.api_port)])
        return
    uvicorn.run(
        "api.app:app_from_env", host=settings.api_host, port=settings.api_port, workers=settings.api_workers, **options
    )


def shared_socket(host: str, port: int) -> socket.socket:
    """The API port bound with SO_REUSEPORT, which every API process on this host binds alike: the kernel hands
    each new connection to one of the processes listening, so no proxy stands in between. A process listens
    only once its app has started (uvicorn listens after the lifespan's startup), so none is sent connections
    it cannot serve yet; one that dies stops being chosen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


if __name__ == "__main__":
    main()
