"""Reads first, across processes: while home timelines are being read, the stream workers send their fan-out
in small rounds (Redis runs a pipeline ahead of the reads queued behind it), and a read that took longer than
`CHIRP_READ_SLOW_MS` tells them to pause between rounds, so that when reads slow down the fan-out lags instead.
Both go through `ReadPressure`'s short-lived Redis keys. A pure ASGI middleware around the fast lane and the
routes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import perf_counter

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("chirp.api")
PATHS = frozenset({"/timeline", "/api/v1/timelines/home"})


class ReadPressureSignal:
    def __init__(self, app: ASGIApp, slow_s: float) -> None:
        self.app = app
        self.slow_s = slow_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PATHS:
            await self.app(scope, receive, send)
            return
        pressure = getattr(getattr(scope["app"].state, "wiring", None), "pressure", None)
        if pressure is not None:
            await _told(pressure.mark_reading)
        started = perf_counter()
        await self.app(scope, receive, send)
        if pressure is not None and perf_counter() - started > self.slow_s:
            await _told(pressure.signal)


async def _told(signal: Callable[[], Awaitable[None]]) -> None:
    """A signal to the fan-out; one that cannot be set (Redis away) only delays the fan-out's response."""
    try:
        await signal()
    except Exception as exc:
        log.warning("cannot signal the fan-out: %s", exc)
