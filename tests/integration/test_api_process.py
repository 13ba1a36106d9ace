"""The API as `make run` starts it: a real uvicorn process serving real writes."""

from __future__ import annotations

import httpx
import pytest

from infra.settings import Settings
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
