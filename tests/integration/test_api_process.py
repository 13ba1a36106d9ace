"""The API as `make run` starts it: a real uvicorn process serving real writes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from infra.settings import Settings
from tests.integration.support import ApiProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    api = ApiProcess(settings)
    yield api.url
    api.stop()


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
