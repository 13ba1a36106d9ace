"""The API as `make run` starts it: a real uvicorn process serving real writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from infra.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "CHIRP_API_PORT": str(port), "CHIRP_TOPIC_PREFIX": settings.topic_prefix,
           "CHIRP_KEYSPACE": settings.keyspace, "CHIRP_REDIS_PREFIX": settings.redis_prefix}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "api exited"
            assert time.monotonic() < deadline, "API did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_register_post_follow_over_http(base_url: str, uniq: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        a = c.post("/users", json={"handle": f"h{uniq}", "display_name": "H"}).json()
        b = c.post("/users", json={"handle": f"i{uniq}", "display_name": "I"}).json()
        auth = {"Authorization": f"Bearer {a['token']}"}
        r = c.post("/tweets", headers=auth, json={"user_id": a["user_id"], "content": "over http"})
        assert r.status_code == 201 and r.json()["content"] == "over http"
        r = c.post("/follow", headers=auth, json={"follower_id": a["user_id"], "followee_id": b["user_id"]})
        assert r.status_code == 204
        spec = c.get("/openapi.json").json()
        assert "/tweets" in spec["paths"] and c.get("/docs").status_code == 200
