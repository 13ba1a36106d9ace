"""The garbage collector of a long-running process: what was built at start-up (modules, the app, pools,
prepared statements) lives as long as the process, yet every full collection walks it again, a pause of tens
of milliseconds in a read's or a batch's latency. `settle` moves it out of the collector's way (gc.freeze) once
start-up is done, and sets how many new objects trigger a young collection (CHIRP_GC_YOUNG_THRESHOLD)."""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("chirp.heap")


def settle(young_threshold: int) -> None:
    """Collects what start-up left, then freezes the rest (never collected again: it is not garbage), and
    applies the young generation's threshold (the older two keep CPython's defaults)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
    log.info("heap settled: %d objects frozen, young collections every %d allocations", gc.get_freeze_count(),
             young_threshold)  # fmt: skip
