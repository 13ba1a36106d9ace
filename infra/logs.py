"""One log format for every chirp process, and no secret in any line of it."""

from __future__ import annotations

import logging
import re

# Bearer tokens wherever they may show up: a query string (`?access_token=`, which browsers' EventSource and
# WebSocket clients must use), an Authorization header echoed in an error, or the token itself.
_SECRETS = re.compile(r"(access_token=|[Bb]earer\s+)[^\s&\"']+|\bchirp_[A-Za-z0-9_-]{16,}")


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (arguments merged in) without tokens; on handlers, so that records of
    every logger (uvicorn's access log included) pass through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("cassandra").setLevel(logging.ERROR)
