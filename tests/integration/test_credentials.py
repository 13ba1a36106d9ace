"""Credentials reach the services: a Redis that demands a password (requirepass) is served through
CHIRP_REDIS_URL by every client chirp makes of it (probe, stores, rate limits)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from api.ratelimit import RateLimits
from infra.services.launcher import Redis as RedisService
from infra.settings import Settings
from ops.chaos import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Redis of its own on loopback that refuses clients without the password."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("locked-redis")
    server = shutil.which("redis-server")
    assert server, "redis-server not installed (make up installs it)"
    proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--requirepass", "s3cret",
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    client = redis.Redis(port=port, password="s3cret")
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)  # polling the new server's readiness
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_the_password_in_the_url_is_used_and_required(locked_redis: int) -> None:
    good = Settings(redis_url=f"redis://:s3cret@127.0.0.1:{locked_redis}/0", redis_prefix="cred:")
    bad = Settings(redis_url=f"redis://:wrong@127.0.0.1:{locked_redis}/0", redis_prefix="cred:")
    none = Settings(redis_url=f"redis://127.0.0.1:{locked_redis}/0", redis_prefix="cred:")
    assert RedisService(good).probe()
    assert not RedisService(bad).probe() and not RedisService(none).probe()

    async def limited() -> bool | None:
        verdict = await RateLimits(good).hit("register", "a127.0.0.1")
        return None if verdict is None else verdict.allowed

    assert asyncio.run(limited()) is True  # None would mean the limiter could not reach Redis
