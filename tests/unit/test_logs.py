"""No token reaches a log line."""

from __future__ import annotations

import logging

import pytest

from infra.logs import RedactSecrets, redact


@pytest.mark.parametrize(
    "line",
    [
        'GET /timeline/stream?user_id=1&access_token=chirp_abcdefghijklmnopqrstuvwxyz HTTP/1.1" 200',
        "authorization: Bearer sekrit-token-value",
        "token chirp_AbCdEfGhIjKlMnOpQrStUv issued",
    ],
)
def test_tokens_are_redacted(line: str) -> None:
    out = redact(line)
    assert "[redacted]" in out
    assert "abcdefghij" not in out and "sekrit" not in out and "AbCdEfGh" not in out


def test_the_filter_rewrites_records_with_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("chirp.test.redact")
    caplog.handler.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="chirp.test.redact"):
        logger.info("%s %s", "GET", "/timeline/ws?access_token=chirp_0123456789abcdef0123")
    assert caplog.messages == ["GET /timeline/ws?access_token=[redacted]"]
    assert redact("nothing secret here") == "nothing secret here"
