"""Reads first, across processes: a home-timeline read that took longer than `CHIRP_READ_SLOW_MS` tells the
stream workers (through `ReadPressure`, a short-lived Redis key) to pause their fan-out rounds, so that
when reads slow down the fan-out lags instead. A pure ASGI middleware around the fast lane and the route."""

from __future__ import annotations

import logging
from time import perf_counter

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("chirp.api")
PATH = "/timeline"


class ReadPressureSignal:
    def __init__(self, app: ASGIApp, slow_s: float) -> None:
        self.app = app
        self.slow_s = slow_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        await self.app(scope, receive, send)
        if perf_counter() - started > self.slow_s:
            pressure = getattr(getattr(scope["app"].state, "wiring", None), "pressure", None)
            if pressure is not None:
                try:
                    await pressure.signal()
                except Exception as exc:  # the response is sent; a lost signal only delays the yield
                    log.warning("cannot signal read pressure: %s", exc)
