"""Serves the API: `python -m api` (what `make run` starts)."""

from __future__ import annotations

import uvicorn

from infra.logs import setup_logging
from infra.settings import Settings


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level)
    url = f"http://{settings.api_host}:{settings.api_port}"
    print(f"chirp API listening on {url} (web app: /, docs: /docs)", flush=True)
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        log_config=None,  # uvicorn's records go to chirp's handlers, whose filter strips tokens (infra/logs.py)
        # X-Forwarded-For names the client only when it comes from a proxy chirp is told to trust; otherwise
        # anyone could pick the address its rate limits are counted under.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


if __name__ == "__main__":
    main()
