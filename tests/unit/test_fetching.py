"""The worker's Kafka consumer is built with the settings' fetch minimum and wait (streams/fetching.py), not
Faust's fixed ones: aiokafka's consumer builds its fetcher from these when it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.settings import Settings
from streams.app import build_app
from streams.fetching import FetchingApp


async def test_the_worker_consumer_fetches_as_the_settings_say(tmp_path: Path) -> None:
    settings = Settings(worker_fetch_min_bytes=12_345, worker_fetch_max_wait_ms=7, state_dir=tmp_path)
    app: Any = build_app(settings)
    consumer = app.consumer._new_consumer_thread()._create_worker_consumer(app.transport)
    assert isinstance(app, FetchingApp)
    try:
        assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (12_345, 7)
    finally:
        await consumer._client.close()


async def test_without_fetch_settings_faust_keeps_its_own(tmp_path: Path) -> None:
    app: Any = build_app(Settings(state_dir=tmp_path))
    app.chirp_fetching = None
    consumer = app.consumer._new_consumer_thread()._create_worker_consumer(app.transport)
    try:
        assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (1, 1500)
    finally:
        await consumer._client.close()
