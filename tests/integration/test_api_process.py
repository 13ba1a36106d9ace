"""The API as `make run` starts it: a real uvicorn process serving real writes."""

from __future__ import annotations

import httpx
import pytest

from infra.settings import Settings
from ops.chaos import free_port, wait_for
from tests.integration.support import ApiProcess

pytestmark = pytest.mark.integration


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


def test_ten_concurrent_registrations_of_one_handle_give_exactly_one_201(
    api_process: ApiProcess, base_url: str, settings: Settings, uniq: str
) -> None:
    import asyncio

    from tests.integration.support import decoded

    handle = f"same{uniq}"

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as c:
            rs = await asyncio.gather(*(c.post("/users", json={"handle": handle, "display_name": "S"})
                                        for _ in range(10)))  # fmt: skip
            return sorted(r.status_code for r in rs)

    # a 5xx names its cause in the API's log
    assert asyncio.run(burst()) == [201] + [409] * 9, api_process.output()[-8_000:]
    registered = [e for e in decoded(settings, "users") if e.get("handle") == handle]
    assert len(registered) == 1


def served(metrics_port: int) -> float:
    """Requests one API process has answered, from its own metrics endpoint."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/", timeout=5).text
    prefix = "chirp_http_request_duration_seconds_count{"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_api_processes_with_reuse_port_share_the_port_and_survive_each_other(settings: Settings) -> None:
    """CHIRP_API_REUSE_PORT (`chirp run --apis N` with CHIRP_API_BALANCER=kernel): every process listens on the
    API port; the kernel hands each new connection to one of them, and one stopped leaves the others serving."""
    port, metrics = free_port(), [free_port(), free_port()]
    procs = [ApiProcess(settings, port=port, ready=f"http://127.0.0.1:{m}/", CHIRP_API_REUSE_PORT="true",
                        CHIRP_API_METRICS_PORT=str(m)) for m in metrics]  # fmt: skip
    try:
        # a process's metrics endpoint starts just before it listens: wait until the last one takes connections
        first = served(metrics[-1])
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").is_success and served(metrics[-1]) > first,
                 30, "the second process to take connections")  # fmt: skip
        before = [served(m) for m in metrics]
        for _ in range(64):  # a connection of its own each
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        answered = [served(m) - b for m, b in zip(metrics, before, strict=True)]
        assert sum(answered) == 64 and min(answered) > 0, answered  # both took some (2 x 2^-64 to fail by chance)
        procs.pop().stop()
        for _ in range(16):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        for p in procs:
            p.stop()
