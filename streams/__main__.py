"""Runs the stream worker: `python -m streams` (what `make worker` and `make run` start)."""

from __future__ import annotations

import os

from infra import heap
from infra.logs import setup_logging
from infra.settings import Settings


def main() -> None:
    settings = Settings()
    if settings.worker_loop == "uvloop":
        import mode.loop

        mode.loop.use("uvloop")  # before faust makes its loop
    import faust

    from streams.app import build_app

    setup_logging(settings.log_level)
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # reads first: on shared cores the API wins, the fan-out lags
    app = build_app(settings)
    heap.settle(settings.gc_young_threshold)
    level = {"warning": "warn"}.get(settings.log_level, settings.log_level)
    faust.Worker(app, loglevel=level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
